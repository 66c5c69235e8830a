"""Data contract, loading, validation and feature pipelines: the bottom layer of kompeten."""
