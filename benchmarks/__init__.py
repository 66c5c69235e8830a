"""Benchmarks: scripts that print numbers and write JSON to benchmarks/results/ (not tests)."""
