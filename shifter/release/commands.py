"""``pre_traffic`` commands: argv, environment, streamed output, timeout, stop.

A command is split like a shell would (``shlex``) and run without a shell unless
``shell: true`` (then ``/bin/sh -c``). It runs in its own process group so that a timeout
or an interrupted shifter stops it and anything it started (SIGTERM, SIGKILL 5 s later).
Its output (stdout and stderr) goes to shifter's stderr line by line with a
``[pre-traffic NAME]`` prefix; the last ``TAIL`` lines are kept for the summary.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

TAIL = 20
KILL_AFTER = 5.0


def argv_of(run: str, shell: bool) -> list[str]:
    """The argv to execute; ValueError on unbalanced quotes."""
    if shell:
        return ["/bin/sh", "-c", run]
    argv = shlex.split(run)
    if not argv:
        raise ValueError("empty command")
    return argv


def command_env(base: Mapping[str, str], *, release: str, namespace: str, colour: str,
                service: str, url: str, preview_url: str | None = None,
                preview_header: str | None = None,
                extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The command's environment: shifter's own plus the SHIFTER_* variables."""
    env = dict(base)
    env.update(extra or {})
    env.update({"SHIFTER_RELEASE": release, "SHIFTER_NAMESPACE": namespace,
                "SHIFTER_NEW_COLOUR": colour, "SHIFTER_NEW_SERVICE": service,
                "SHIFTER_NEW_URL": url})
    if preview_url is not None:
        env["SHIFTER_PREVIEW_URL"] = preview_url
    if preview_header is not None:
        env["SHIFTER_PREVIEW_HEADER"] = preview_header
    return env


@dataclass(frozen=True)
class CommandResult:
    """How one command ended; ``tail`` is its last lines of output."""

    name: str
    exit_code: int | None  # None: it never started or was stopped
    timed_out: bool
    stopped: bool  # stopped because shifter was interrupted
    seconds: float
    tail: tuple[str, ...]
    error: str | None = None  # could not start

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.stopped

    @property
    def why(self) -> str:
        if self.error:
            return self.error
        if self.timed_out:
            return f"timed out after {self.seconds:.0f}s"
        if self.stopped:
            return "stopped: shifter was interrupted"
        return f"exited {self.exit_code}"


def _kill(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(KILL_AFTER)
            return
        except subprocess.TimeoutExpired:
            continue


def run_command(name: str, argv: list[str], env: Mapping[str, str], *, timeout: float,
                stopped: Callable[[], bool] = lambda: False, out: TextIO | None = None,
                clock: Callable[[], float] = time.monotonic) -> CommandResult:
    """Run one command to its end, its timeout, or until ``stopped()`` says so (checked
    every 0.1 s; if it raises, the command is stopped and the error goes on)."""
    stream = out or sys.stderr
    tail: deque[str] = deque(maxlen=TAIL)
    started = clock()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=dict(env),
                                start_new_session=True)
    except OSError as exc:
        return CommandResult(name, None, False, False, 0.0, (),
                             error=f"cannot start {argv[0]!r}: {exc.strerror or exc}")

    def pump() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            tail.append(line)
            with contextlib.suppress(OSError, ValueError):
                stream.write(f"[pre-traffic {name}] {line}\n")
                stream.flush()

    reader = threading.Thread(target=pump, name=f"pre-traffic-{name}", daemon=True)
    reader.start()
    timed_out = was_stopped = False
    try:
        while proc.poll() is None:
            if clock() - started >= timeout:
                timed_out = True
            else:
                was_stopped = stopped()
            if timed_out or was_stopped:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(0.1)
    finally:  # also when stopped() raised (e.g. the lock was lost): the command goes too
        if proc.poll() is None:
            _kill(proc)
        reader.join(2.0)
        if proc.stdout is not None:
            proc.stdout.close()
    code = proc.returncode if not (timed_out or was_stopped) else None
    return CommandResult(name, code, timed_out, was_stopped, clock() - started, tuple(tail))
