"""kompeten training_pipeline package."""
