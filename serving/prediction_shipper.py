"""The prediction shipper: its own process beside `kompeten serve`'s workers.

Shipping a batch to MLflow (client calls, CSV, percentiles, traces) is Python work that holds
the GIL for hundreds of milliseconds; inside a worker it doubled the p99 of every request that
arrived meanwhile. So `kompeten serve` runs the workers as record-only and starts this process,
at a lower CPU priority, to ship the shared outbox in the service's database (`PredictionLog`
with role "ship", on the same `Settings.resolved_database_url` as the workers). A
supervisor thread in `serve` restarts it if it dies. Supervised, it ignores SIGTERM and SIGINT
(a stop signal sent to the whole process group must not end it before the workers have written
their last rows) and stops when its stdin closes: `serve` closes it after uvicorn returned, and
the kernel closes it when `serve` dies. Then one last flush, bounded.

Run by hand, ``python -m serving.prediction_shipper`` ships the outbox until interrupted, e.g.
to drain a backlog left while MLflow was down and the service is not running.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

from features.settings import get_settings

_log = logging.getLogger("kompeten.serving.shipper")

NICENESS = 10  # the workers' requests come first; shipping catches up in quiet moments
RESTART_DELAY_S = 5.0
SUPERVISED_ENV = "KOMPETEN_SHIPPER_SUPERVISED"


def run(stop: threading.Event, niceness: int = NICENESS) -> None:
    """Ship until `stop` is set, then flush once more."""
    from serving.prediction_log import PredictionLog, PredictionLogConfig

    if niceness:
        try:
            os.nice(niceness)
        except OSError:  # not allowed here: ship at normal priority rather than not at all
            _log.warning("could not lower the shipper's CPU priority")
    log = PredictionLog(get_settings(), PredictionLogConfig(role="ship")).start()
    _log.info("prediction shipper started (outbox in %s)", log.outbox.display_url)
    try:
        while not stop.wait(1.0):  # a timed wait: signal handlers run in between
            pass
    finally:
        log.stop()


def _stop_at_eof(stop: threading.Event) -> None:
    sys.stdin.buffer.read()  # returns at EOF: the supervisor closed the pipe, or died
    stop.set()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     [shipper] %(message)s")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if os.environ.get(SUPERVISED_ENV):  # only the supervisor (or its death) stops us
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        threading.Thread(target=_stop_at_eof, args=(stop,), daemon=True).start()
    else:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    run(stop)
    return 0


class ShipperSupervisor:
    """Starts the shipper process and restarts it when it dies while the service runs."""

    def __init__(self, restart_delay_s: float = RESTART_DELAY_S) -> None:
        self.restart_delay_s = restart_delay_s
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts = 0

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, SUPERVISED_ENV: "1"}
        return subprocess.Popen(
            [sys.executable, "-m", "serving.prediction_shipper"], env=env, stdin=subprocess.PIPE
        )

    def start(self) -> ShipperSupervisor:
        self._process = self._spawn()
        self._thread = threading.Thread(target=self._watch, name="shipper-supervisor", daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            if process is not None and process.poll() is not None:
                if self._stopping.wait(self.restart_delay_s):
                    return
                _log.warning("prediction shipper exited (code %s); restarting", process.returncode)
                self._process = self._spawn()
                self.restarts += 1
            self._stopping.wait(1.0)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self, timeout_s: float = 30.0) -> None:
        """Close its stdin (the stop sign), wait for the last flush (bounded), then kill."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5.0)
        process = self._process
        if process is None or process.poll() is not None:
            return
        if process.stdin is not None:
            process.stdin.close()
        deadline = time.monotonic() + timeout_s
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if process.poll() is None:
            _log.error("prediction shipper did not stop in %.0f s; killed", timeout_s)
            process.kill()
            process.wait(5.0)


if __name__ == "__main__":
    sys.exit(main())
