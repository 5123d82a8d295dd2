"""The researcher's commands: ``validate``, ``calibrate`` and ``params``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    refusing,
    writing,
)

if TYPE_CHECKING:
    from ketasim.trials.validation import ValidationReport


FamiliesOption = Annotated[
    str | None,
    typer.Option(help="Comma-separated target families to keep (default: all; see data/targets.yaml)."),
]


def _families(option: str | None) -> frozenset[str] | None:
    """The families named by ``--families`` (exit 2 naming an unknown one)."""
    if option is None:
        return None
    from ketasim.trials.targets import load_targets

    known = sorted({t.family for t in load_targets()})
    chosen = [f.strip() for f in option.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in known]
    if not chosen or unknown:
        bad("--families", f"{', '.join(unknown) or repr(option)}: not a target family; allowed: {', '.join(known)}")
    return frozenset(chosen)


def validate_command(
    output_format: FormatOption = OutputFormat.table,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report with a plot per target family.")] = None,
    n: Annotated[int, typer.Option(help="Virtual patients per arm (50–5000).")] = 400,
    families: FamiliesOption = None,
    params_file: ParamsOption = None,
    replicate: Annotated[
        int,
        typer.Option(
            help="Draw of virtual patients: 0 (default) the packaged populations; another number draws new "
            "patients for every arm, to see how far the Monte Carlo draw moves the counts (0–10000)."
        ),
    ] = 0,
) -> None:
    """Re-run every published target's design: observed vs predicted, tolerance, pass/fail,
    and whether the target was used to calibrate the parameters.  A research and
    decision-support tool: it does not replace clinical judgement."""
    from ketasim.trials.validation import MAX_REPLICATE, validate

    check_range("--n", n, 50, 5000, "patients")
    check_range("--replicate", replicate, 0, MAX_REPLICATE)
    output_file("--report", report, (".html",))
    chosen = _families(families)
    params = parameters(params_file)
    doc = validate(n=n, params=params, families=chosen, replicate=replicate)
    if report is not None:
        from ketasim.reporting.html import validation_html, write_html

        with writing("--report"):
            write_html(report, validation_html(doc, params))
    if output_format is OutputFormat.json:
        echo_json(doc)
        return
    cv = doc.cross_validation
    fold_of = {r.id: r for r in cv.targets} if cv is not None else {}
    table = Table(title=f"Validation: {doc.passed}/{doc.total} targets pass in sample")
    for col in ("id", "endpoint", "observed", "in-sample", "cross-validated", "tol", "pass (cv)"):
        table.add_column(col, overflow="fold")
    for r in doc.targets:
        held = fold_of.get(r.id)
        table.add_row(
            r.id,
            r.endpoint[:60],
            r.observed_text(),
            "—" if r.predicted is None else f"{r.predicted:.3g}",
            "—" if held is None or held.predicted is None else f"{held.predicted:.3g} (fold {held.fold})",
            f"{r.tolerance:g}",
            ("yes" if r.passed else "no") + ("" if held is None else f" ({'yes' if held.passed else 'no'})"),
            style="green" if (held.passed if held is not None else r.passed) else "red",
        )
    console.print(table)
    console.print(summary_lines(doc))
    disclaimer()


def summary_lines(doc: ValidationReport) -> str:
    """The three figures, cross-validated first (the headline)."""
    cv = doc.cross_validation
    lines = []
    if cv is not None:
        lines.append(
            f"cross-validated ({cv.folds}-fold by study, {cv.sources} studies): {cv.passed}/{cv.total} "
            f"({100 * cv.passed / max(cv.total, 1):.0f}%) held-out targets within tolerance"
        )
    else:
        lines.append(f"cross-validated: none ({doc.cross_validation_note})")
    lines.append(
        f"in-sample (targets used to fit): {doc.in_sample.passed}/{doc.in_sample.total} "
        f"({100 * doc.in_sample.passed / max(doc.in_sample.total, 1):.0f}%)"
    )
    if doc.pk is not None:
        lines.append(f"PK checks: {doc.pk.passed}/{doc.pk.total}")
    return "\n".join(lines)


def calibrate_command(
    out: Annotated[Path, typer.Option("--out", help="The parameter file to write (.yaml); never the packaged one.")],
    n: Annotated[int, typer.Option(help="Virtual patients per arm (50–2000).")] = 200,
    max_evaluations: Annotated[int, typer.Option(help="Least-squares evaluations per stage (1–500).")] = 25,
    targets: Annotated[
        str | None, typer.Option(help="Comma-separated target ids to fit (default: every addressable target).")
    ] = None,
    families: FamiliesOption = None,
    folds: Annotated[
        int, typer.Option(help="Cross-validation folds by study (2–20), refitted after the full fit; 0: none.")
    ] = 0,
    jobs: Annotated[int, typer.Option(help="Worker processes for the cross-validation refits (1–64).")] = 2,
    starts: Annotated[
        int,
        typer.Option(help="Starting points per stage (1–8): the declared start, then jittered ones; lowest cost wins."),
    ] = 1,
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
    check_range("--jobs", jobs, 1, 64, "processes")
    check_range("--starts", starts, 1, 8, "starting points")
    if folds != 0:
        check_range("--folds", folds, 2, 20, "folds")
    chosen = None
    if targets is not None:
        known = {t.id: t for t in load_targets()}
        ids = [part.strip() for part in targets.split(",") if part.strip()]
        unknown = [i for i in ids if i not in known]
        if not ids or unknown:
            bad("--targets", f"{', '.join(unknown) or repr(targets)}: not target ids of data/targets.yaml")
        chosen = [known[i] for i in ids]
    kept = _families(families)
    if kept is not None:
        chosen = [t for t in (chosen or load_targets()) if t.family in kept]
    output_file("--out", out, (".yaml", ".yml"))
    installed = Path(str(packaged(PACKAGED_CALIBRATION)))
    if out.resolve() == installed.resolve() and "site-packages" in str(installed):
        bad("--out", f"{str(out)!r} is the installed package's own file; write a new file and pass it with --params")
    params = parameters(params_file)
    from ketasim.trials.calibration import CalibrationError, assign_folds, fittable

    if folds:
        try:
            assign_folds(fittable(chosen or load_targets()), folds)
        except CalibrationError as err:
            bad("--folds", err.problems[0][1])
    with refusing("--folds", {"folds": "--folds", "calibration": "--out"}):
        cal = calibrate(
            n=n,
            max_nfev=max_evaluations,
            log=lambda m: console.print(m),
            targets=chosen,
            params=params,
            folds=folds,
            jobs=jobs,
            starts=starts,
        )
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
