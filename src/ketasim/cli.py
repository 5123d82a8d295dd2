"""The `ketasim` command line.  Every command validates its input before computing:
a bad value names the flag, the value and the allowed range, exits with code 2 and
writes nothing."""

from __future__ import annotations

import itertools
import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from ketasim import DISCLAIMER, __version__
from ketasim.population import AGE_RANGE_YEARS, WEIGHT_RANGE_KG

app = typer.Typer(
    name="ketasim",
    help=f"Mechanistic simulator of ketamine and esketamine, dose to symptoms.\n\n{DISCLAIMER}",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


class Drug(StrEnum):
    racemic_ketamine = "racemic_ketamine"
    esketamine = "esketamine"


class RouteName(StrEnum):
    iv = "iv"
    im = "im"
    sc = "sc"
    intranasal = "intranasal"
    oral = "oral"
    sublingual = "sublingual"


class SexName(StrEnum):
    female = "female"
    male = "male"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


_DOSE_FLAGS = {
    "amount_mg": "--dose-mg",
    "amount_mg_per_kg": "--dose-mg-per-kg",
    "route": "--route",
    "duration_h": "--duration-min",
}


def _bad(flag: str, message: str) -> NoReturn:
    raise typer.BadParameter(message, param_hint=f"'{flag}'")


def _check_range(flag: str, value: float | None, low: float, high: float, unit: str) -> None:
    if value is not None and not (low <= value <= high):
        _bad(flag, f"{value:g} is outside the allowed range {low:g}–{high:g} {unit}")


def _parse_times(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        times = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        _bad("--at-h", f"{text!r} is not a comma-separated list of hours, e.g. 0,0.5,1,2")
    if not times:
        _bad("--at-h", "give at least one time in hours")
    if any(not math.isfinite(t) or t < 0 or t > 24 * 365 for t in times):
        _bad("--at-h", f"{text!r}: times must be between 0 and 8760 h")
    if any(b <= a for a, b in itertools.pairwise(times)):
        _bad("--at-h", f"{text!r}: times must be strictly increasing")
    return times


def _check_plot_path(plot: Path | None) -> None:
    if plot is None:
        return
    if plot.suffix.lower() != ".png":
        _bad("--plot", f"{str(plot)!r} must end in .png")
    if plot.parent != Path("") and not plot.parent.is_dir():
        _bad("--plot", f"the folder {str(plot.parent)!r} does not exist")


def _fmt(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x:.4g}"


@app.command("pk")
def pk_command(
    drug: Annotated[Drug, typer.Option(help="Drug given.")],
    route: Annotated[RouteName, typer.Option(help="Route of administration.")],
    dose_mg: Annotated[float | None, typer.Option(help="Dose in mg.")] = None,
    dose_mg_per_kg: Annotated[float | None, typer.Option(help="Dose in mg per kg body weight.")] = None,
    duration_min: Annotated[float | None, typer.Option(help="IV infusion duration in minutes (default 40).")] = None,
    weight_kg: Annotated[float, typer.Option(help="Body weight, 30–250 kg.")] = 70.0,
    age_years: Annotated[float, typer.Option(help="Age, 18–100 years.")] = 40.0,
    sex: Annotated[SexName, typer.Option(help="Sex.")] = SexName.male,
    at_h: Annotated[
        str | None, typer.Option(help="Comma-separated output times in hours (default: grid to 24 h).")
    ] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG figure of the profile.")] = None,
) -> None:
    """Plasma concentrations of ketamine or esketamine and their metabolite after one dose.

    Summary figures (Cmax, Tmax, AUC to infinity, terminal half-life) come from a dense
    internal grid to 72 h.  Does not replace clinical judgement.
    """
    from ketasim.pk import DEFAULT_TIMES_H, DoseError, PKRequest, pk_profile

    if (dose_mg is None) == (dose_mg_per_kg is None):
        _bad("--dose-mg / --dose-mg-per-kg", "give exactly one of the two")
    for flag, value in (("--dose-mg", dose_mg), ("--dose-mg-per-kg", dose_mg_per_kg)):
        if value is not None and not (math.isfinite(value) and value > 0):
            _bad(flag, f"{value:g} must be a positive dose")
    _check_range("--weight-kg", weight_kg, *WEIGHT_RANGE_KG, "kg")
    _check_range("--age-years", age_years, *AGE_RANGE_YEARS, "years")
    if duration_min is not None:
        if route is not RouteName.iv:
            _bad("--duration-min", f"{duration_min:g}: an infusion duration applies to --route iv only")
        if not (math.isfinite(duration_min) and 0 < duration_min <= 24 * 60):
            _bad("--duration-min", f"{duration_min:g} must be > 0 and at most 1440 minutes")
    times = _parse_times(at_h)
    _check_plot_path(plot)
    request = PKRequest(
        drug=drug.value,
        route=route.value,
        dose_mg=dose_mg,
        dose_mg_per_kg=dose_mg_per_kg,
        duration_min=duration_min,
        weight_kg=weight_kg,
        age_years=age_years,
        sex=sex.value,
        at_h=times if times is not None else DEFAULT_TIMES_H,
    )
    try:
        profile = pk_profile(request)
    except DoseError as err:
        _bad(_DOSE_FLAGS.get(err.field, f"--{err.field}"), f"{err.value!r} is not allowed: {err.allowed}")
    except ValidationError as err:
        first = err.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "dose"
        _bad(_DOSE_FLAGS.get(field, f"--{field}"), str(first["msg"]))
    if plot is not None:
        from ketasim.io.figures import plot_pk_profiles

        title = f"{drug.value} {route.value} " + (
            f"{dose_mg:g} mg" if dose_mg is not None else f"{dose_mg_per_kg:g} mg/kg"
        )
        plot_pk_profiles([(title, profile["times_h"], profile["concentrations_ng_ml"])], plot)
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(profile, allow_nan=False, default=_json_default))
        return
    _print_profile(profile)


def _json_default(obj: Any) -> Any:
    raise TypeError(f"not JSON serialisable: {obj!r}")


def _print_profile(profile: dict[str, Any]) -> None:
    analytes = list(profile["concentrations_ng_ml"])
    table = Table(title="Plasma concentration (ng/mL)")
    table.add_column("time (h)", justify="right")
    for a in analytes:
        table.add_column(a, justify="right")
    for i, t in enumerate(profile["times_h"]):
        table.add_row(f"{t:g}", *(_fmt(profile["concentrations_ng_ml"][a][i]) for a in analytes))
    console.print(table)
    _print_summary(profile["summary"])
    console.print(DISCLAIMER, style="dim", soft_wrap=True)


def _print_summary(summary: dict[str, dict[str, float]], title: str = "Summary") -> None:
    table = Table(title=title)
    for col in ("analyte", "Cmax (ng/mL)", "Tmax (h)", "AUC0-inf (ng·h/mL)", "t1/2 (h)"):
        table.add_column(col, justify="right")
    for analyte, s in summary.items():
        table.add_row(
            analyte,
            _fmt(s["cmax_ng_ml"]),
            _fmt(s["tmax_h"]),
            _fmt(s["auc_ng_h_ml"]),
            _fmt(s["half_life_h"]),
        )
    console.print(table)


def _scenario_or_exit(path: Path | None) -> Any:
    from ketasim.io.scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario

    if path is None:
        return DEFAULT_SCENARIO
    if not path.is_file():
        _bad("SCENARIO", f"{str(path)!r} does not exist")
    try:
        return load_scenario(path)
    except ScenarioError as err:
        _scenario_problems(err)
    except (ValueError, OSError) as err:  # YAML/JSON syntax
        _bad("SCENARIO", f"{str(path)!r} cannot be read: {err}")


def _scenario_problems(err: Any, param: str = "SCENARIO") -> NoReturn:
    lines = [f"{field}: {message}" for field, message in err.problems]
    raise typer.BadParameter("\n".join(lines), param_hint=f"'{param}'")


def _check_out_path(flag: str, path: Path | None, suffix: str) -> None:
    if path is None:
        return
    if path.suffix.lower() != suffix:
        _bad(flag, f"{str(path)!r} must end in {suffix}")
    if path.parent != Path("") and not path.parent.is_dir():
        _bad(flag, f"the folder {str(path.parent)!r} does not exist")


@app.command("simulate")
def simulate_command(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario file (YAML/JSON); default: the built-in TRD scenario.")
    ] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
    plot: Annotated[Path | None, typer.Option(help="Write the cascade figure (PNG).")] = None,
    report: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report.")] = None,
) -> None:
    """Simulate one patient from dose to symptoms and side effects.

    With no file: a 70 kg adult with treatment-resistant depression, MADRS 32, six IV
    infusions of 0.5 mg/kg over 40 min on days 0, 2, 4, 7, 9, 11, followed to day 42.
    Does not replace clinical judgement.
    """
    from ketasim.io.scenario import ScenarioError
    from ketasim.simulate import course_json, simulate_scenario

    sc = _scenario_or_exit(scenario)
    _check_out_path("--plot", plot, ".png")
    _check_out_path("--report", report, ".html")
    try:
        result = simulate_scenario(sc)
    except ScenarioError as err:
        _scenario_problems(err)
    doc = course_json(result)
    if plot is not None or report is not None:
        _write_course_outputs(sc, doc, plot, report)
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(doc, allow_nan=False))
        return
    _print_course(sc, doc)


def _write_course_outputs(sc: Any, doc: dict[str, Any], plot: Path | None, report: Path | None) -> None:
    import tempfile

    from ketasim.io.figures import plot_cascade
    from ketasim.io.report import write_report

    with tempfile.TemporaryDirectory() as tmp:
        figure = plot_cascade([(sc.name, doc)], plot or Path(tmp) / "cascade.png")
        if report is not None:
            write_report(
                report,
                f"ketasim simulation: {sc.name}",
                [
                    ("Scenario", sc.model_dump_json(indent=1), [], []),
                    ("The cascade", "Dose to plasma, receptor, cascade and symptoms.", [figure], []),
                    ("Course summary", "", [], [_course_table(doc)]),
                    (
                        "Sessions",
                        "Peak NMDA occupancy and adverse-event probabilities per session.",
                        [],
                        [
                            (
                                [
                                    "time (h)",
                                    "kind",
                                    "peak occupancy",
                                    "p nausea",
                                    "p dizziness",
                                    "p sedation",
                                ],
                                [
                                    [
                                        s["time_h"],
                                        s["kind"],
                                        f"{s['peak_occupancy']:.2f}",
                                        f"{s['p_nausea']:.2f}",
                                        f"{s['p_dizziness']:.2f}",
                                        f"{s['p_sedation']:.2f}",
                                    ]
                                    for s in doc["sessions"]
                                ],
                            )
                        ],
                    ),
                    (
                        "Flags",
                        "; ".join(f["message"] + " — " + f["source"] for f in doc["flags"]) or "none",
                        [],
                        [],
                    ),
                ],
            )


def _course_table(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    times = doc["times_h"]
    scales_ = list(doc["scales"])
    head = ["day", *scales_, "occupancy", "BDNF", "synapses", "CADSS", "SBP (mmHg)"]
    rows = []
    for day in (0, 1, 2, 3, 7, 14, 21, 28, 42, 56, 84):
        t = 24.0 * day + 12.0 if day else 0.0
        if t > times[-1]:
            break
        i = min(range(len(times)), key=lambda k: abs(times[k] - t))
        rows.append(
            [
                f"{day}",
                *(f"{doc['scales'][s][i]:.1f}" for s in scales_),
                f"{doc['states']['nmda_occupancy'][i]:.2f}",
                f"{doc['states']['bdnf'][i]:.2f}",
                f"{doc['states']['synapses'][i]:.2f}",
                f"{doc['adverse']['cadss'][i]:.1f}",
                f"{doc['adverse']['sbp_mmhg'][i]:.0f}",
            ]
        )
    return head, rows


def _print_course(sc: Any, doc: dict[str, Any]) -> None:
    head, rows = _course_table(doc)
    table = Table(title=f"{sc.name} (values at midday)")
    for h in head:
        table.add_column(h, justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    s0 = doc["sessions"][0] if doc["sessions"] else None
    if s0 is not None:
        console.print(
            f"first session: peak NMDA occupancy {s0['peak_occupancy']:.2f} at "
            f"{60 * s0['peak_time_after_start_h']:.0f} min; peak CADSS {max(doc['adverse']['cadss']):.1f}; "
            f"peak SBP {max(doc['adverse']['sbp_mmhg']):.0f} mmHg"
        )
    for flag in doc["flags"]:
        console.print(f"[yellow]flag[/yellow] {flag['message']} ({flag['source']})")
    console.print(DISCLAIMER, style="dim", soft_wrap=True)


@app.command("trial")
def trial_command(
    design_file: Annotated[Path, typer.Argument(metavar="FILE", help="Trial design (YAML/JSON), see docs/trials.md.")],
    output_format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
    out: Annotated[
        Path | None, typer.Option(help="Write per-patient, per-assessment rows to this Parquet file (streamed).")
    ] = None,
    replicates: Annotated[
        int | None, typer.Option(help="Replicate trials (power = fraction significant); default: the design's.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Local worker processes (1–64).")] = 1,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a dask.distributed scheduler to send the chunks to.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the design's).")] = None,
    memory_mib: Annotated[float, typer.Option(help="Memory the run may use (MiB, 256–1048576).")] = 2048.0,
) -> None:
    """Run a virtual clinical trial: every arm's population through the whole model, then
    the endpoints with 95% CIs and arm-vs-control comparisons.  Does not replace clinical
    judgement."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ketasim.trials.design import MAX_REPLICATES, TrialError, load_design
    from ketasim.trials.trial import run_trial

    if not design_file.is_file():
        _bad("FILE", f"{str(design_file)!r} does not exist")
    _check_out_path("--out", out, ".parquet")
    _check_range("--replicates", replicates, 1, MAX_REPLICATES, "")
    _check_range("--workers", workers, 1, 64, "")
    _check_range("--memory-mib", memory_mib, 256, 1048576, "MiB")
    if seed is not None and seed < 0:
        _bad("--seed", f"{seed} must be 0 or more")
    try:
        design = load_design(design_file)
    except TrialError as err:
        _scenario_problems(err, "FILE")
    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} chunks"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=output_format is OutputFormat.json,
    )
    try:
        with bar:
            task = bar.add_task(design.name, total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = run_trial(
                design,
                replicates=replicates,
                seed=seed,
                out=out,
                workers=workers,
                scheduler=scheduler,
                progress=progress,
                memory_mib=memory_mib,
            )
    except TrialError as err:
        _scenario_problems(err, "FILE")
    doc = result.summary
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(doc, allow_nan=False))
        return
    _print_trial(doc, out)


def _ci(e: dict[str, Any]) -> str:
    v, (lo, hi) = e["value"], e["ci95"]

    def f(x: float | None) -> str:
        return "—" if x is None else f"{x:.3g}"

    return f"{f(v)} ({f(lo)} to {f(hi)})"


def _print_trial(doc: dict[str, Any], out: Path | None) -> None:
    arms = list(doc["arms"])
    table = Table(title=f"{doc['trial']} — {doc['scale']}, value (95% CI)")
    table.add_column("endpoint")
    for arm in arms:
        table.add_column(f"{arm} (n={doc['arms'][arm]['n']})", justify="right")
    for name in doc["arms"][arms[0]]["endpoints"]:
        table.add_row(name, *[_ci(doc["arms"][a]["endpoints"][name]) for a in arms])
    console.print(table)
    if doc["comparisons"]:
        comp = Table(title=f"vs {doc['control']}: difference (95% CI), p")
        comp.add_column("comparison")
        comp.add_column("difference (95% CI)", justify="right")
        comp.add_column("p", justify="right")
        for name, c in doc["comparisons"].items():
            comp.add_row(name, _ci({"value": c["difference"], "ci95": c["ci95"]}), _fmt_p(c["p_value"]))
        console.print(comp)
    if "replicates" in doc:
        rep = Table(title=f"{doc['replicates']['n']} replicate trials: power at alpha {doc['replicates']['alpha']}")
        rep.add_column("comparison")
        rep.add_column("power", justify="right")
        rep.add_column("mean difference", justify="right")
        for name, c in doc["replicates"]["comparisons"].items():
            mean = "—" if c["mean_difference"] is None else f"{c['mean_difference']:.3g}"
            rep.add_row(name, f"{c['power']:.2f}", mean)
        console.print(rep)
    if out is not None:
        console.print(f"per-patient rows: {out}")
    console.print(DISCLAIMER, style="dim", soft_wrap=True)


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


@app.command("plan")
def plan_command(
    patient_file: Annotated[
        Path, typer.Argument(metavar="PATIENT", help="Patient file (YAML/JSON), see docs/planner.md.")
    ],
    output_format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
    report: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report.")] = None,
    rules: Annotated[Path | None, typer.Option(help="The clinic's own rules file (default: the packaged one).")] = None,
) -> None:
    """Plan one patient: eligibility and safety findings with sources, method and dose,
    session monitoring with the patient's predicted peaks, and a course forecast that
    sharpens with the patient's observed scores.  Supports and does not replace clinical
    judgement."""
    from ketasim.clinic.patient import PlannerError, load_patient
    from ketasim.clinic.plan import plan_patient
    from ketasim.clinic.report import write_plan_report
    from ketasim.clinic.rules import load_rules

    if not patient_file.is_file():
        _bad("PATIENT", f"{str(patient_file)!r} does not exist")
    _check_out_path("--report", report, ".html")
    if rules is not None and not rules.is_file():
        _bad("--rules", f"{str(rules)!r} does not exist")
    try:
        patient = load_patient(patient_file)
        rule_set = load_rules(rules) if rules is not None else None
    except PlannerError as err:
        _scenario_problems(err, "PATIENT" if rules is None else "PATIENT/--rules")
    doc = plan_patient(patient, rule_set)
    if report is not None:
        write_plan_report(report, patient, doc)
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(doc, allow_nan=False))
        return
    _print_plan(doc)


def _print_plan(doc: dict[str, Any]) -> None:
    style = {"eligible": "green", "needs_review": "yellow", "not_eligible": "red"}[doc["decision"]]
    console.print(f"[bold]{doc['patient']}[/bold]: [{style}]{doc['decision'].replace('_', ' ')}[/{style}]")
    if doc["findings"]:
        table = Table(title="Findings")
        for col in ("severity", "rule", "message", "source"):
            table.add_column(col, overflow="fold")
        for f in doc["findings"]:
            table.add_row(f["severity"], f["rule"], f["message"], f["source"])
        console.print(table)
    reg = doc["regimen"]
    console.print(f"Method: {reg['drug']} {reg['route']} — " + "; ".join(reg.get("reasons", [])))
    if reg["sessions"]:
        table = Table(title="Sessions")
        for col in ("session", "day", "phase", "dose (mg)", "duration (min)"):
            table.add_column(col, justify="right")
        for i, s in enumerate(reg["sessions"]):
            table.add_row(
                str(i + 1), f"{s['day']:g}", s.get("phase", ""), f"{s['dose_mg']:g}", f"{s['duration_min']:g}"
            )
        console.print(table)
    for p in doc.get("session_predictions", [])[:1]:
        console.print(
            f"Session 1 predicted peaks: CADSS {p['cadss_peak']['median']:.1f} "
            f"({p['cadss_peak']['p10']:.1f}–{p['cadss_peak']['p90']:.1f}) at {p['cadss_peak_t_min']:g} min; "
            f"SBP {p['sbp_peak_mmhg']['median']:.0f} mmHg ({p['sbp_peak_mmhg']['p10']:.0f}–"
            f"{p['sbp_peak_mmhg']['p90']:.0f}) at {p['sbp_peak_t_min']:g} min; "
            f"earliest discharge {p['earliest_discharge_min']:g} min"
        )
    f = doc.get("forecast")
    if f:
        relapse = "beyond follow-up" if f["median_days_to_relapse"] is None else f["median_days_to_relapse"]
        console.print(
            f"Forecast ({f['scale']}): response after induction {f['response_probability']:.0%}; "
            f"median days to loss of response without maintenance: {relapse}; "
            f"suggested maintenance interval: {f['suggested_maintenance_interval_days'] or '—'} days"
        )
    console.print(DISCLAIMER, style="dim", soft_wrap=True)


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (1024–65535).")] = 8000,
    validation_n: Annotated[int, typer.Option(help="Virtual patients per arm for /api/validation (20–2000).")] = 400,
    max_patient_courses: Annotated[
        int, typer.Option(help="Largest trial per request: patients × arms × replicates (100–10,000,000).")
    ] = 200_000,
) -> None:
    """Start the web app and HTTP API (FastAPI under uvicorn): pages at http://HOST:PORT/,
    API docs at /docs, schema at /openapi.json.  Supports and does not replace clinical
    judgement."""
    _check_range("--port", port, 1024, 65535, "")
    _check_range("--validation-n", validation_n, 20, 2000, "patients")
    _check_range("--max-patient-courses", max_patient_courses, 100, 10_000_000, "")
    import uvicorn

    from ketasim.api import Limits, create_app

    limits = Limits(validation_n=validation_n, max_patient_courses=max_patient_courses)
    console.print(f"ketasim {__version__}: open http://{host}:{port}/ (API docs: http://{host}:{port}/docs)")
    console.print(DISCLAIMER, style="dim", soft_wrap=True)
    uvicorn.run(create_app(limits), host=host, port=port, log_level="warning")


@app.command("export-sbml")
def export_sbml_command(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario file (YAML/JSON); default: the built-in TRD scenario.")
    ] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="SBML file to write (.xml or .sbml).")] = Path(
        "model.xml"
    ),
) -> None:
    """Write the scenario's patient — PK, receptor, cascade, symptoms, side effects and doses
    as events — as SBML Level 3 for COPASI, tellurium or libroadrunner.  Does not replace
    clinical judgement."""
    from ketasim.io.sbml import write_sbml

    sc = _scenario_or_exit(scenario)
    if output.suffix.lower() not in (".xml", ".sbml"):
        _bad("--output", f"{str(output)!r} must end in .xml or .sbml")
    if output.parent != Path("") and not output.parent.is_dir():
        _bad("--output", f"the folder {str(output.parent)!r} does not exist")
    path = write_sbml(sc, output)
    console.print(f"wrote {path} (SBML L3V2: {sc.name})")
    console.print(DISCLAIMER, style="dim", soft_wrap=True)


@app.command("validate")
def validate_command(
    output_format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report with a plot per target family.")] = None,
    n: Annotated[int, typer.Option(help="Virtual patients per arm (50–5000).")] = 400,
) -> None:
    """Re-run every published target's design: observed vs predicted, tolerance, pass/fail."""
    from ketasim.trials.validation import validate, validation_json

    _check_range("--n", n, 50, 5000, "patients")
    _check_out_path("--report", report, ".html")
    doc = validation_json(validate(n=n))
    if report is not None:
        import tempfile

        from ketasim.io.figures import plot_validation
        from ketasim.io.report import write_report

        with tempfile.TemporaryDirectory() as tmp:
            fig = plot_validation(doc["targets"], Path(tmp) / "validation.png")
            write_report(
                report,
                f"ketasim validation: {doc['passed']}/{doc['total']} targets pass",
                [
                    ("Observed vs predicted", "Green: within tolerance; red: outside.", [fig], []),
                    (
                        "Every target",
                        "",
                        [],
                        [
                            (
                                [
                                    "id",
                                    "source",
                                    "endpoint",
                                    "observed",
                                    "predicted",
                                    "tolerance",
                                    "pass",
                                    "reason",
                                ],
                                [
                                    [
                                        r["id"],
                                        r["source"],
                                        r["endpoint"],
                                        r["observed"],
                                        "—" if r["predicted"] is None else f"{r['predicted']:.3g}",
                                        r["tolerance"],
                                        "yes" if r["pass"] else "no",
                                        r.get("reason", ""),
                                    ]
                                    for r in doc["targets"]
                                ],
                            )
                        ],
                    ),
                ],
            )
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(doc, allow_nan=False))
        return
    table = Table(title=f"Validation: {doc['passed']}/{doc['total']} targets pass")
    for col in ("id", "endpoint", "observed", "predicted", "tol", "pass"):
        table.add_column(col, overflow="fold")
    for r in doc["targets"]:
        pred = "—" if r["predicted"] is None else f"{r['predicted']:.3g}"
        table.add_row(
            r["id"],
            r["endpoint"][:70],
            f"{r['observed']:.3g}",
            pred,
            f"{r['tolerance']:g}",
            "[green]yes[/green]" if r["pass"] else "[red]no[/red]",
        )
    console.print(table)
    console.print(DISCLAIMER, style="dim", soft_wrap=True)


@app.command("calibrate")
def calibrate_command(
    n: Annotated[int, typer.Option(help="Virtual patients per arm (50–2000).")] = 200,
    max_evaluations: Annotated[int, typer.Option(help="Least-squares evaluations per stage (5–500).")] = 25,
    output: Annotated[Path | None, typer.Option(help="Where to write (default: the packaged calibrated.yaml).")] = None,
) -> None:
    """Fit the parameters no source fixes against the published targets; deterministic."""
    from ketasim.pd._params import calibrated_path
    from ketasim.trials.calibration import calibrate, write_calibration

    _check_range("--n", n, 50, 2000, "patients")
    _check_range("--max-evaluations", max_evaluations, 5, 500, "evaluations")
    _check_out_path("--output", output, ".yaml")
    cal = calibrate(n=n, max_nfev=max_evaluations, log=lambda m: console.print(m))
    target = output or Path(calibrated_path())
    write_calibration(cal, str(target))
    console.print(f"wrote {target} (objective {cal.objective})")


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option(help="Folder for the figure and JSON.")] = Path("out/demo"),
) -> None:
    """Run the built-in default scenario: PK of the standard regimens, with a figure."""
    from ketasim.demo import run_demo

    run_demo(out, console)


@app.command("params")
def params_command(
    model: Annotated[
        str, typer.Argument(help="clements_1981, domino_1982, perez_ruixo_2021, a drug name, or 'mechanism'.")
    ] = "racemic_ketamine",
) -> None:
    """Print a PK model's parameters with units, variability, covariates and sources (Markdown)."""
    from ketasim.io.parameters import parameter_table_markdown
    from ketasim.pd._params import mechanism_table_markdown
    from ketasim.pk._model import DRUG_MODELS

    if model == "mechanism":
        typer.echo(mechanism_table_markdown())
        return
    name = DRUG_MODELS.get(model, model)
    known = ("clements_1981", "domino_1982", "perez_ruixo_2021")
    if name not in known:
        _bad("MODEL", f"{model!r} is not a model; choose from {', '.join((*known, *DRUG_MODELS, 'mechanism'))}")
    typer.echo(parameter_table_markdown(name))


@app.command("version")
def version_command() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
