"""The ``ketasim`` command line: one module per command, sharing :mod:`ketasim.cli._app`.

Every command validates its input before computing: a bad value names the flag (or the
file and field), the value and what is allowed, exits with code 2 and writes nothing.
"""

from __future__ import annotations

import signal
from types import FrameType

from ketasim.cli._app import app
from ketasim.cli.clinic import clinic_app
from ketasim.cli.demo import demo_command, version_command
from ketasim.cli.pk import pk_command
from ketasim.cli.plan import plan_command
from ketasim.cli.science import calibrate_command, params_command, validate_command
from ketasim.cli.serve import serve_command
from ketasim.cli.simulate import export_sbml_command, simulate_command
from ketasim.cli.trial import trial_command
from ketasim.io.files import terminate, termination_signal

for name, command in (
    ("pk", pk_command),
    ("simulate", simulate_command),
    ("trial", trial_command),
    ("plan", plan_command),
    ("serve", serve_command),
    ("export-sbml", export_sbml_command),
    ("validate", validate_command),
    ("calibrate", calibrate_command),
    ("params", params_command),
    ("demo", demo_command),
    ("version", version_command),
):
    app.command(name)(command)
app.add_typer(clinic_app)

__all__ = ["app", "main"]


def _terminate(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM: remove unfinished output files, then exit (finally-blocks run)."""
    terminate(signum)


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    finally:
        signum = termination_signal()
        if signum is not None:  # the handler's SystemExit was swallowed (it ran in a finaliser)
            raise SystemExit(128 + signum)
