"""``python -m lab demo`` passes its options to lab.demo (argparse's REMAINDER dropped them)."""

from __future__ import annotations

import pytest

from lab import cli


def test_demo_options_reach_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(cli, "_demo", lambda argv: seen.append(argv) or 0)
    assert cli.main(["demo", "--router", "nginx", "--rps", "20"]) == 0
    assert seen == [["--router", "nginx", "--rps", "20"]]


def test_demo_help_is_the_demos(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["demo", "--help"])
    assert done.value.code == 0
    assert "--router {nginx,gateway,istio,service}" in capsys.readouterr().out
