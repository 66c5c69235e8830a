"""The prediction log's write-ahead journal: what `record` queued survives a killed worker.

`PredictionLog.record` only queues (the outbox insert is batched by a writer thread), so a
`kill -9` lost the rows of the last few tens of milliseconds. Now `record` also appends the row
as one JSON line to this process's journal segment: one `write` on an O_APPEND descriptor,
which the kernel keeps when the process dies. The writer swaps segments before each batch
(`rotate`), inserts exactly the rows of the closed segment together with its name in the
outbox's `prediction_journal_done` table (one transaction), then deletes the file. A starting
writer replays the segments of dead processes (their flock is gone): a segment already marked
done is only deleted, so no row is inserted twice. The segments stay on this host's disk
(home/prediction_journal/) even when the outbox is a PostgreSQL several hosts share: they are
the host's own crash safety, replayed by the host's next start.

Power loss is not covered (no fsync on the request path); the outbox itself is synchronous.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)

SUFFIX = ".jsonl"


class SegmentEnd:
    """Queue marker: every row queued before it is in segment `path`.

    It keeps the segment's descriptor, and so its lock, until `release`: a process starting
    meanwhile must not replay rows the writer is about to commit.
    """

    __slots__ = ("fd", "path")

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Journal:
    """This process's open segment in `folder`; `append` is safe from any thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self._fd = -1
        self._path: Path | None = None
        self._open()

    def _open(self) -> None:
        path = self.folder / f"{os.getpid()}-{uuid.uuid4().hex}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel when this process dies
        self._fd, self._path = fd, path

    def append(self, row: Sequence[Any]) -> None:
        """One row as one line (the caller holds `lock`, so a rotation cannot split it)."""
        os.write(self._fd, (json.dumps(list(row), ensure_ascii=False) + "\n").encode("utf-8"))

    def rotate(self, put: Callable[[Any], None]) -> SegmentEnd:
        """Start a new segment; `put`s (and returns) the end marker of the previous one,
        which the caller releases once the segment's rows are stored."""
        with self.lock:
            old_fd, old_path = self._fd, self._path
            self._open()
            marker = SegmentEnd(old_path, old_fd)  # type: ignore[arg-type]
            put(marker)
        return marker

    def close(self) -> None:
        """Remove the current segment if it holds nothing (shutdown after the last batch)."""
        with self.lock:
            if self._fd < 0 or self._path is None:
                return
            empty = os.fstat(self._fd).st_size == 0
            os.close(self._fd)
            if empty:
                with contextlib.suppress(FileNotFoundError):
                    self._path.unlink()
            self._fd, self._path = -1, None


@contextlib.contextmanager
def claimed(path: Path) -> Iterator[bool]:
    """Hold `path`'s flock while the body recovers it; False when a live writer owns it or
    another starting process already recovered (and deleted) it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False  # a live writer (or another recovering process) holds it
            return
        yield os.fstat(fd).st_nlink > 0
    finally:
        os.close(fd)


def segments(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []


def read_segment(path: Path) -> list[tuple[Any, ...]]:
    """The rows of a segment; a torn last line (killed mid-write) is skipped."""
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rows.append(tuple(json.loads(line)))
        except ValueError:
            _log.warning("skipped a torn line in the prediction journal %s", path.name)
    return rows
