"""The ``shifter`` (and ``kubectl-shift``) command."""

from __future__ import annotations

import sys

import typer

from shifter import __version__
from shifter.cli import control, run, status, validate

app = typer.Typer(
    name="shifter",
    help="Shift live traffic from blue to green in steps, gated by Prometheus SLOs, "
         "and put it all back the moment green degrades.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit codes: 0 promoted, 1 internal error, 2 invalid input (nothing changed), "
           "3 rolled back on an SLO breach, 4 aborted (operator or signal), 5 cluster or "
           "Prometheus unreachable, 6 another run holds the release's lock.",
)


def _version(value: bool) -> None:
    if value:
        print(f"shifter {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """shifter's commands."""


app.command("run")(run.run)
app.command("status")(status.status)
app.command("validate")(validate.validate)
app.command("abort")(control.abort)
app.command("promote")(control.promote)
app.command("pause")(control.pause)
app.command("resume")(control.resume)


def main() -> None:
    """Entry point of ``shifter`` and ``kubectl-shift``."""
    try:
        app(prog_name="kubectl shift" if sys.argv[0].endswith("kubectl-shift") else "shifter")
    except KeyboardInterrupt:  # outside a rollout: nothing to put back
        print("interrupted", file=sys.stderr)
        sys.exit(4)
