"""kompeten experiments package."""
