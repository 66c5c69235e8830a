"""`python -m benchmarks`: the scale suite (every stage at 10k and 100k employees, API latency).

See `benchmarks.bench_scale` for the options; the per-component scripts (bench_*.py) run alone.
"""

from benchmarks.bench_scale import main

main()
