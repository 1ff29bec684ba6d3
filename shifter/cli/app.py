"""The ``shifter`` (and ``kubectl-shift``) command."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from shifter import __version__
from shifter.cli import aftercare, control, run, schema, status, validate
from shifter.cli.common import ROOT
from shifter.cli.options import (
    ContextOpt,
    KubeconfigOpt,
    LogFormatOpt,
    LogLevelOpt,
    NamespaceOpt,
    RequestTimeoutOpt,
)

EXIT_CODES = ("Exit codes: 0 done (run: promoted) · 1 internal error, or status: no record · "
              "2 invalid input, nothing changed · 3 rolled back (SLO breach, never ready, "
              "failed check) · 4 aborted (operator or signal) · 5 could not proceed (cluster "
              "or Prometheus unreachable, or a request not acted on in time) · 6 another run "
              "holds the release's lock.")

def _flags_without_metavar(params: list[Any]) -> list[Any]:
    """A flag takes no value: show none (Typer would print ``<bool>``)."""
    for param in params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    return params


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_without_metavar(super().get_params(ctx))

    def main(self, args: Any = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: str | None = None, standalone_mode: bool = True,
             **kwargs: Any) -> Any:
        """Usage errors (a wrong choice, a bad duration, an unknown flag) are one
        ``error:`` line with exit 2, like every other error of shifter."""
        # Typer 0.29 vendors Click as typer._click and exports no ClickException alias.
        from typer._click.exceptions import ClickException, NoArgsIsHelpError

        kwargs.update(args=args, prog_name=prog_name, complete_var=complete_var,
                      standalone_mode=False)
        if not standalone_mode:
            return super().main(**kwargs)
        try:
            rv = super().main(**kwargs)
        except NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except ClickException as exc:
            hint = ""
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                hint = f" (see '{ctx.command_path} --help')"
            message = " ".join(exc.format_message().split()).replace("Value error, ", "")
            print(f"error: {message}{hint}", file=sys.stderr)
            sys.exit(exc.exit_code)
        except typer.Abort:
            print("aborted", file=sys.stderr)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_without_metavar(super().get_params(ctx))


app = typer.Typer(
    name="shifter",
    cls=_Group,
    help="Shift live traffic from blue to green in steps, gated by Prometheus SLOs, "
         "and put it all back the moment green degrades.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXIT_CODES,
)


def _version(value: bool) -> None:
    if value:
        print(f"shifter {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(*,
          version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False,
          namespace: NamespaceOpt = None, kubeconfig: KubeconfigOpt = None,
          context: ContextOpt = None, request_timeout: RequestTimeoutOpt = None,
          log_level: LogLevelOpt = None, log_format: LogFormatOpt = None) -> None:
    """shifter's commands. Kubernetes and log options work before or after the command
    (kubectl shift -n demo status shop); after it, they win."""
    ROOT.clear()
    ROOT.update(namespace=namespace, kubeconfig=kubeconfig, context=context,
                request_timeout=request_timeout, log_level=log_level, log_format=log_format)


class Shell(StrEnum):
    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"


@app.command("completion", cls=_Command)
def completion(ctx: typer.Context,
               shell: Annotated[Shell, typer.Argument(help="The shell.",
                                                      show_default=False)]) -> None:
    """Print the shell completion script, e.g. source <(shifter completion bash).

    shifter --install-completion installs it for the current shell instead."""
    from typer._completion_shared import get_completion_script

    prog = ctx.find_root().info_name or "shifter"
    prog = "shifter" if " " in prog else prog  # "kubectl shift": complete shifter itself
    print(get_completion_script(prog_name=prog, complete_var=f"_{prog.upper()}_COMPLETE",
                                shell=shell.value))


_COMMANDS: list[tuple[str, Any]] = [
    ("run", run.run), ("status", status.status), ("validate", validate.validate),
    ("config-schema", schema.config_schema), ("abort", control.abort),
    ("approve", control.approve), ("promote", control.promote), ("pause", control.pause),
    ("resume", control.resume), ("undo", aftercare.undo), ("cleanup", aftercare.cleanup)]
for _name, _fn in _COMMANDS:
    app.command(_name, cls=_Command)(_fn)


def main() -> None:
    """Entry point of ``shifter`` and ``kubectl-shift``."""
    name = "kubectl shift" if sys.argv[0].endswith("kubectl-shift") else "shifter"
    try:
        app(prog_name=name)
    except KeyboardInterrupt:  # outside a rollout: nothing to put back
        print("interrupted", file=sys.stderr)
        sys.exit(4)
    except Exception as exc:  # a bug: one line, exit 1, and never a secret it may quote
        from shifter.redact import scrub_text

        if os.environ.get("SHIFTER_TRACEBACK"):
            import traceback

            print(scrub_text(traceback.format_exc()), file=sys.stderr)
        print(scrub_text(f"internal error: {type(exc).__name__}: {exc}"
                         " (set SHIFTER_TRACEBACK=1 for the traceback)"), file=sys.stderr)
        sys.exit(1)
