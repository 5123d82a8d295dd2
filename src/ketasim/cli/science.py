"""The researcher's commands: ``validate``, ``calibrate`` and ``params``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ketasim.cli._app import (
    FormatOption,
    OutputFormat,
    ParamsOption,
    bad,
    check_range,
    console,
    disclaimer,
    echo_json,
    output_file,
    parameters,
    writing,
)


def validate_command(
    output_format: FormatOption = OutputFormat.table,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report with a plot per target family.")] = None,
    n: Annotated[int, typer.Option(help="Virtual patients per arm (50–5000).")] = 400,
    params_file: ParamsOption = None,
) -> None:
    """Re-run every published target's design: observed vs predicted, tolerance, pass/fail,
    and whether the target was used to calibrate the parameters.  A research and
    decision-support tool: it does not replace clinical judgement."""
    from ketasim.trials.validation import validate

    check_range("--n", n, 50, 5000, "patients")
    output_file("--report", report, (".html",))
    params = parameters(params_file)
    doc = validate(n=n, params=params)
    if report is not None:
        from ketasim.reporting.html import validation_html, write_html

        with writing("--report"):
            write_html(report, validation_html(doc, params))
    if output_format is OutputFormat.json:
        echo_json(doc)
        return
    table = Table(title=f"Validation: {doc.passed}/{doc.total} targets pass")
    for col in ("id", "endpoint", "observed", "predicted", "tol", "pass", "fitted"):
        table.add_column(col, overflow="fold")
    for r in doc.targets:
        table.add_row(
            r.id,
            r.endpoint[:70],
            f"{r.observed:.3g}",
            "—" if r.predicted is None else f"{r.predicted:.3g}",
            f"{r.tolerance:g}",
            "yes" if r.passed else "no",
            "yes" if r.used_in_calibration else "no",
            style="green" if r.passed else "red",
        )
    console.print(table)
    disclaimer()


def calibrate_command(
    out: Annotated[Path, typer.Option("--out", help="The parameter file to write (.yaml); never the packaged one.")],
    n: Annotated[int, typer.Option(help="Virtual patients per arm (50–2000).")] = 200,
    max_evaluations: Annotated[int, typer.Option(help="Least-squares evaluations per stage (1–500).")] = 25,
    targets: Annotated[
        str | None, typer.Option(help="Comma-separated target ids to fit (default: every addressable target).")
    ] = None,
    params_file: ParamsOption = None,
) -> None:
    """Fit the parameters no source fixes against the published targets, deterministically,
    and write them as a new parameter file for `--params`.  A research and decision-support
    tool: it does not replace clinical judgement."""
    from ketasim.io.data import packaged
    from ketasim.params import PACKAGED_CALIBRATION
    from ketasim.trials.calibration import calibrate, write_calibration
    from ketasim.trials.targets import load_targets

    check_range("--n", n, 50, 2000, "patients")
    check_range("--max-evaluations", max_evaluations, 1, 500, "evaluations")
    chosen = None
    if targets is not None:
        known = {t.id: t for t in load_targets()}
        ids = [part.strip() for part in targets.split(",") if part.strip()]
        unknown = [i for i in ids if i not in known]
        if not ids or unknown:
            bad("--targets", f"{', '.join(unknown) or repr(targets)}: not target ids of data/targets.yaml")
        chosen = [known[i] for i in ids]
    output_file("--out", out, (".yaml", ".yml"))
    installed = Path(str(packaged(PACKAGED_CALIBRATION)))
    if out.resolve() == installed.resolve() and "site-packages" in str(installed):
        bad("--out", f"{str(out)!r} is the installed package's own file; write a new file and pass it with --params")
    params = parameters(params_file)
    cal = calibrate(n=n, max_nfev=max_evaluations, log=lambda m: console.print(m), targets=chosen, params=params)
    with writing("--out"):
        write_calibration(cal, str(out))
    console.print(f"wrote {out} (objective {cal.objective}); use it with --params {out}")
    disclaimer()


def params_command(
    model: Annotated[
        str, typer.Argument(help="A drug, a PK model (clements_1981, domino_1982, perez_ruixo_2021), or 'mechanism'.")
    ] = "racemic_ketamine",
    params_file: ParamsOption = None,
) -> None:
    """Print a model's parameters with units, variability, covariates and sources (Markdown)."""
    from ketasim.pk import PK_MODELS, parameter_table_markdown
    from ketasim.vocabulary import drug, names

    if model == "mechanism":
        typer.echo(parameters(params_file).table_markdown())
        return
    name = drug(model).pk_model if model in names("drugs") else model
    if name not in PK_MODELS:
        bad("MODEL", f"{model!r} is not a model; choose from {', '.join((*PK_MODELS, *names('drugs'), 'mechanism'))}")
    typer.echo(parameter_table_markdown(name))
