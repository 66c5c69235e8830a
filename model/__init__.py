"""kompeten model package."""
