"""``ketasim demo`` (what ``make demo`` runs) and ``ketasim version``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ketasim import __version__
from ketasim.cli._app import ParamsOption, bad, console, parameters, writing


def demo_command(
    out: Annotated[Path, typer.Option(help="Folder for the figures and JSON.")] = Path("out/demo"),
    params_file: ParamsOption = None,
) -> None:
    """Run the built-in default scenario: PK of the standard regimens, then six IV infusions
    against an SSRI, with the cascade figure.  A research and decision-support tool: it does
    not replace clinical judgement."""
    from ketasim.demo import run_demo

    if out.exists() and not out.is_dir():
        bad("--out", f"{str(out)!r} is a file; give a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        bad("--out", f"{str(out)!r} cannot be created: {err.strerror or err}")
    params = parameters(params_file)
    with writing("--out"):
        run_demo(out, console, params)


def version_command() -> None:
    """Print the version."""
    typer.echo(__version__)
