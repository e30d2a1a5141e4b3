"""What the benchmarks (``bench_mlflow``, ``bench_dvc``, ``bench_lineage``) share: the figure, the timer, the
peak-RSS launcher, a server started for the length of a measurement, and the result table. Each app's ``bench``
module measures its own work and builds its own figures with these."""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from django.conf import settings

T = TypeVar("T")


class BenchError(Exception):
    """A benchmark could not measure something (a sync failed, a tool it compares against failed, a count is wrong)."""


@dataclass
class Figure:
    """One line of the result table: a measured value, and for targeted figures the bound and the verdict."""

    key: str
    label: str
    seconds: float | None = None
    value: float | None = None
    unit: str = ""
    target: float | None = None
    note: str = ""

    @property
    def passed(self) -> bool | None:
        """True/False against the target (value ≤ target); None when the figure has no target."""
        if self.target is None or self.value is None:
            return None
        return self.value <= self.target


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Run ``fn`` once after a garbage collection; return (wall seconds, its result)."""
    gc.collect()
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


# Runs the command given as arguments and prints its peak RSS (KB) and exit code as JSON. The launcher is a small
# process: a child's ru_maxrss starts at the RSS of the process it was forked from (Linux keeps the high-water mark
# across exec), so forking the sync straight from a ~500 MB benchmark process would report that process's size, not
# the sync's own.
_RSS_LAUNCHER = (
    "import json, resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:], stdout=sys.stderr)\n"
    "print(json.dumps({'code': code, 'maxrss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
)


def peak_rss(command: list[str], *, log_path: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run ``command`` (e.g. ``[sys.executable, "manage.py", "sync_dvc", …]``) in a fresh process in the project
    folder with ``env``, its output going to ``log_path``, and return (its peak RSS in MB, its wall seconds including
    start-up). The peak is ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` (KB on Linux) read by a small launcher process
    after the command exits: the largest peak of that process and of the processes it waited for (one process's,
    never a sum). Refuses (``BenchError``) a non-zero exit, with the end of its output."""
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        done = subprocess.run(
            [sys.executable, "-c", _RSS_LAUNCHER, *command],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            check=False,
        )
    seconds = time.perf_counter() - started
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, ValueError):
        # The launcher itself died before reporting: its own exit code is all there is.
        report = {"code": done.returncode, "maxrss_kb": 0}
    if done.returncode != 0 or report["code"] != 0:
        raise BenchError(
            f"`{' '.join(command[1:])}` exited {report['code']}:\n{log_path.read_text(errors='replace')[-2000:]}"
        )
    return report["maxrss_kb"] / 1024, seconds


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    command: list[str], *, ready_url: str, name: str, log_path: Path, cwd: Path, env: dict[str, str], timeout_s: int
) -> Iterator[None]:
    """Start ``command`` (a server: ``mlflow server``, gunicorn) in ``cwd`` with ``env`` in its own process group,
    its output going to ``log_path``; wait until ``ready_url`` answers (any HTTP status), yield, and stop the whole
    group on the way out, errors included. Raises ``BenchError`` with the end of the log when the process exits
    first or does not answer within ``timeout_s`` seconds (``name`` names it in the message)."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise BenchError(f"{name} exited {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(ready_url, timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"{name} did not answer in {timeout_s} s:\n{log_path.read_text()[-3000:]}"
                    ) from None
                time.sleep(0.3)
        yield
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group: TERM, up to 15 s for the server to exit, then KILL whatever is left
    of the group (also when the wait is interrupted)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group is the server's own session: only its processes
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def _target_text(target: float, unit: str) -> str:
    """The target column: a peak RSS in whole MB, seconds with their unit, a ratio bare (its unit is in the value)."""
    if unit == "MB":
        return f"<= {target:.0f} MB"
    if unit == "s":
        return f"<= {target:.2f} s"
    return f"<= {target:.2f}"


def format_figures(figures: list[Figure], *, title: list[str]) -> list[str]:
    """The result table as lines: ``title`` as given, then a row a figure (figure, absolute time, ratio or value,
    target, PASS/MISS, or "report only" for a value without a target) with its note below it, then "All targets
    met." or the keys of the targets missed."""
    head = f"{'Figure':<44} {'Time':>9}  {'Ratio / value':>16}  {'Target':>14}  Result"
    lines = [*title, head, "-" * len(head)]
    for f in figures:
        time_s = f"{f.seconds:.2f} s" if f.seconds is not None else ""
        if f.value is None:
            value = ""
        elif f.unit == "MB":
            value = f"{f.value:.0f} MB"
        else:
            value = f"{f.value:.3f} {f.unit}"
        if f.target is None:
            target, verdict = ("report only" if f.value is not None else ""), ""
        else:
            target, verdict = _target_text(f.target, f.unit), ("PASS" if f.passed else "MISS")
        lines.append(f"{f.label:<44} {time_s:>9}  {value:>16}  {target:>14}  {verdict}")
        if f.note:
            lines.append(f"{'':<6}{f.note}")
    missed = [f.key for f in figures if f.passed is False]
    lines.append("-" * len(head))
    lines.append("All targets met." if not missed else f"Targets missed: {', '.join(missed)}.")
    return lines
