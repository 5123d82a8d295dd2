"""The Typer application and what every command shares: refusing bad input (exit 2, the flag,
the value, what is allowed, nothing written), the ``--params`` option, output formats."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console

from ketasim import DISCLAIMER
from ketasim.errors import InputError, problems_from_errors
from ketasim.io.files import check_output_path
from ketasim.params import ParameterSet, default_parameters, load_parameters

app = typer.Typer(
    name="ketasim",
    help=f"Mechanistic simulator of ketamine and esketamine, dose to symptoms.\n\n{DISCLAIMER}",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console(markup=False, highlight=False)


class OutputFormat(StrEnum):
    """How a command prints its result."""

    table = "table"
    json = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]
ParamsOption = Annotated[
    Path | None,
    typer.Option(
        "--params",
        help="Parameter file written by `ketasim calibrate --out` (default: the packaged parameters).",
    ),
]


def bad(flag: str, message: str) -> NoReturn:
    """Refuse a flag's value: exit 2 with ``Invalid value for 'FLAG': message``."""
    raise typer.BadParameter(message, param_hint=f"'{flag}'")


def check_range(flag: str, value: float | None, low: float, high: float, unit: str = "") -> None:
    """Refuse a number outside [low, high] (NaN and infinities included)."""
    if value is not None and not (math.isfinite(value) and low <= value <= high):
        bad(flag, f"{value:g} is not allowed: {low:g}–{high:g} {unit}".rstrip())


def refuse(err: InputError | ValidationError, where: str, flags: Mapping[str, str] | None = None) -> NoReturn:
    """Exit 2 listing every problem.  A problem whose field is a flag (``flags`` maps field →
    flag) names the flag; the others name ``where`` (a file argument) and the field path."""
    problems = err.problems if isinstance(err, InputError) else problems_from_errors(err.errors())
    by_flag = {field: (flags or {}).get(field.split("[")[0].split(".")[0]) for field, _ in problems}
    if len(problems) == 1 and by_flag[problems[0][0]]:
        bad(str(by_flag[problems[0][0]]), problems[0][1])
    lines = [f"{field}: {message}" for field, message in problems]
    raise typer.BadParameter("\n".join(lines), param_hint=f"'{where}'")


@contextmanager
def refusing(where: str, flags: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn bad input raised inside the block into a clean exit 2 (:func:`refuse`)."""
    try:
        yield
    except (InputError, ValidationError) as err:
        refuse(err, where, flags)


def writing(flag: str) -> AbstractContextManager[None]:
    """Refuse (exit 2, naming ``flag``) an output that turns out not to be writable."""
    return refusing(flag, {"(output)": flag})


def input_file(arg: str, path: Path) -> Path:
    """An input file argument that exists and is a file (else exit 2 naming it)."""
    if path.is_dir():
        bad(arg, f"{str(path)!r} is a directory, not a file")
    if not path.exists():
        bad(arg, f"{str(path)!r} does not exist")
    if not path.is_file():
        bad(arg, f"{str(path)!r} is not a regular file (a device, a pipe or a socket)")
    return path


def output_file(flag: str, path: Path | None, suffixes: Sequence[str]) -> Path | None:
    """An output path that can be written (right suffix, existing writable folder), checked
    before anything is computed."""
    if path is None:
        return None
    with refusing(flag, {flag: flag}):
        return check_output_path(path, suffixes, flag)
    return None  # pragma: no cover - refusing() exits


def parameters(path: Path | None) -> ParameterSet:
    """The parameter set of ``--params`` (default: the packaged one)."""
    if path is None:
        return default_parameters()
    with refusing("--params"):
        return load_parameters(input_file("--params", path))
    raise AssertionError  # pragma: no cover - refusing() exits


def echo_json(result: BaseModel) -> None:
    """Print a typed result as JSON (NaN never printed: typed results hold None instead)."""
    typer.echo(json.dumps(result.model_dump(mode="json"), allow_nan=False))


def disclaimer() -> None:
    """The disclaimer under every terminal output."""
    console.print(DISCLAIMER, style="dim", soft_wrap=True)


def flag_names(*fields: str) -> dict[str, str]:
    """``dose_mg`` → ``--dose-mg`` for each field."""
    return {f: "--" + f.replace("_", "-") for f in fields}
