"""kompeten's root command line (the packages below it hold the code)."""
