"""``ketasim pk``: one dose, one patient, the concentration profile and its NCA summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ketasim.cli._app import (
    FormatOption,
    OutputFormat,
    bad,
    console,
    disclaimer,
    echo_json,
    flag_names,
    output_file,
    refusing,
    writing,
)
from ketasim.covariates import AGE_RANGE_YEARS, WEIGHT_RANGE_KG
from ketasim.vocabulary import names

FLAGS = flag_names(
    "drug", "route", "dose_mg", "dose_mg_per_kg", "duration_min", "weight_kg", "age_years", "sex", "at_h"
)


def _times(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) > 1 and any(not part.strip() for part in parts):
        bad("--at-h", f"{text!r} has an empty item; give hours separated by single commas, e.g. 0,0.5,1,2")
    try:
        times = tuple(float(part) for part in parts if part.strip())
    except ValueError:
        bad("--at-h", f"{text!r} is not a comma-separated list of hours, e.g. 0,0.5,1,2")
    if not times:
        bad("--at-h", "give at least one time in hours")
    return times


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


def pk_command(
    drug: Annotated[str, typer.Option(help=f"Drug given: {', '.join(names('drugs'))}.")],
    route: Annotated[str, typer.Option(help=f"Route of administration: {', '.join(names('routes'))}.")],
    dose_mg: Annotated[float | None, typer.Option(help="Dose in mg.")] = None,
    dose_mg_per_kg: Annotated[float | None, typer.Option(help="Dose in mg per kg body weight.")] = None,
    duration_min: Annotated[float | None, typer.Option(help="IV infusion duration in minutes (default 40).")] = None,
    weight_kg: Annotated[
        float, typer.Option(help=f"Body weight, {WEIGHT_RANGE_KG[0]:g}–{WEIGHT_RANGE_KG[1]:g} kg.")
    ] = 70.0,
    age_years: Annotated[float, typer.Option(help=f"Age, {AGE_RANGE_YEARS[0]:g}–{AGE_RANGE_YEARS[1]:g} years.")] = 40.0,
    sex: Annotated[str, typer.Option(help="Sex: female or male.")] = "male",
    at_h: Annotated[
        str | None, typer.Option(help="Comma-separated output times in hours (default: grid to 24 h).")
    ] = None,
    output_format: FormatOption = OutputFormat.table,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG figure of the profile.")] = None,
) -> None:
    """Plasma concentrations of ketamine or esketamine and their metabolite after one dose.

    Summary figures (Cmax, Tmax, AUC to infinity, terminal half-life) come from a dense
    internal grid to 72 h.  A research and decision-support tool: it does not replace
    clinical judgement.
    """
    from ketasim.pk import PKRequest, pk_profile

    output_file("--plot", plot, (".png",))
    times = _times(at_h)
    with refusing("pk", FLAGS):
        request = PKRequest.model_validate(
            {
                "drug": drug,
                "route": route,
                "dose_mg": dose_mg,
                "dose_mg_per_kg": dose_mg_per_kg,
                "duration_min": duration_min,
                "weight_kg": weight_kg,
                "age_years": age_years,
                "sex": sex,
                **({"at_h": times} if times is not None else {}),
            }
        )
        profile = pk_profile(request)
    if plot is not None:
        from ketasim.reporting.figures import plot_pk_profiles

        amount = f"{dose_mg:g} mg" if dose_mg is not None else f"{dose_mg_per_kg:g} mg/kg"
        with writing("--plot"):
            plot_pk_profiles([(f"{drug} {route} {amount}", profile.times_h, profile.concentrations_ng_ml)], plot)
    if output_format is OutputFormat.json:
        echo_json(profile)
        return
    analytes = list(profile.concentrations_ng_ml)
    table = Table(title="Plasma concentration (ng/mL; venous, and the parent's arterial)")
    table.add_column("time (h)", justify="right")
    for a in analytes:
        table.add_column(a, justify="right")
    table.add_column(f"{analytes[0]} arterial", justify="right")
    for i, t in enumerate(profile.times_h):
        row = (_fmt(profile.concentrations_ng_ml[a][i]) for a in analytes)
        table.add_row(f"{t:g}", *row, _fmt(profile.arterial_parent_ng_ml[i]))
    console.print(table)
    summary = Table(title="Summary")
    for col in ("analyte", "Cmax (ng/mL)", "Tmax (h)", "AUC0-inf (ng·h/mL)", "t1/2 (h)"):
        summary.add_column(col, justify="right")
    for analyte, s in profile.summary.items():
        summary.add_row(analyte, _fmt(s.cmax_ng_ml), _fmt(s.tmax_h), _fmt(s.auc_ng_h_ml), _fmt(s.half_life_h))
    console.print(summary)
    disclaimer()
