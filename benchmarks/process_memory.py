"""Peak memory of a process tree from /proc (PSS, so forked workers are not counted twice).

The scale benchmark needs it for the stages whose work runs below the measured process:
Spark's JVM and Python workers, and the planning stage's forked workers.
"""

from __future__ import annotations

import os
from pathlib import Path


class TreeMemory:
    """Peak summed memory (PSS) of this process and all its descendants, sampled from /proc.

    ru_maxrss sees only this process (and children it has waited for); Spark's JVM and its
    Python workers, and the planning stage's forked workers, live below it.
    """

    def __init__(self, interval: float = 0.5) -> None:
        import threading

        self.interval = interval
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mib = max(self.peak_mib, tree_rss_mib(os.getpid()))
            self._stop.wait(self.interval)


def tree_rss_mib(root: int) -> float:
    """Summed resident memory of `root` and its descendants (Linux /proc), in MiB."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(_resident_mib(pid) for pid in tree)


def _resident_mib(pid: int) -> float:
    """PSS (shared pages split between their users: forked workers are not counted twice),
    else RSS where smaps_rollup is not readable."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024.0  # kB
    except (OSError, IndexError, ValueError):
        pass
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
