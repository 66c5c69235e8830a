"""`python -m kompeten` is the `kompeten` command."""

from kompeten.cli import main

main()
