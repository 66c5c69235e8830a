"""kompeten serving package."""
