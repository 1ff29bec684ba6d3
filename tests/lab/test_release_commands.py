"""pre_traffic commands as real child processes: streamed output, tail, timeout, stop."""

from __future__ import annotations

import io
import sys

from shifter.release import commands


def test_run_command_streams_with_a_prefix_and_keeps_the_tail():
    out = io.StringIO()
    code = "import sys\nfor i in range(30): print(i)\nsys.exit(1)"
    result = commands.run_command("it", [sys.executable, "-c", code], {}, timeout=30, out=out)
    assert result.exit_code == 1 and not result.ok
    assert result.tail == tuple(str(i) for i in range(10, 30))
    assert out.getvalue().splitlines()[0] == "[pre-traffic it] 0"


def test_run_command_times_out_and_stops_when_asked():
    sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
    timed = commands.run_command("t", sleeper, {}, timeout=0.3, out=io.StringIO())
    assert timed.timed_out and not timed.ok and timed.seconds < 10
    stopped = commands.run_command("s", sleeper, {}, timeout=30, stopped=lambda: True,
                                   out=io.StringIO())
    assert stopped.stopped and stopped.exit_code is None


def test_run_command_that_cannot_start():
    result = commands.run_command("x", ["/nonexistent/cmd"], {}, timeout=1, out=io.StringIO())
    assert not result.ok and "cannot start" in result.why


def test_an_error_while_waiting_stops_the_command_and_goes_on():
    import pytest

    class LockLost(Exception):
        pass

    def lost() -> bool:
        raise LockLost("taken over")

    sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
    with pytest.raises(LockLost):
        commands.run_command("l", sleeper, {}, timeout=30, stopped=lost, out=io.StringIO())
