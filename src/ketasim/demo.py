"""The built-in default scenario run by `make demo` (and by a test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ketasim import DISCLAIMER
from ketasim.io.files import atomic_path
from ketasim.params import ParameterSet
from ketasim.pk import PKRequest, pk_profile
from ketasim.reporting.figures import plot_cascade, plot_pk_profiles

_TIMES_H = tuple(round(k * 0.05, 2) for k in range(0, 24 * 20 + 1))  # every 3 min to 24 h

STANDARD_REGIMENS: tuple[tuple[str, PKRequest], ...] = (
    (
        "Racemic ketamine IV 0.5 mg/kg over 40 min",
        PKRequest(drug="racemic_ketamine", route="iv", dose_mg_per_kg=0.5, at_h=_TIMES_H),
    ),
    ("Esketamine nasal 56 mg", PKRequest(drug="esketamine", route="intranasal", dose_mg=56, at_h=_TIMES_H)),
    ("Esketamine nasal 84 mg", PKRequest(drug="esketamine", route="intranasal", dose_mg=84, at_h=_TIMES_H)),
    ("Racemic ketamine oral 50 mg", PKRequest(drug="racemic_ketamine", route="oral", dose_mg=50, at_h=_TIMES_H)),
    (
        "Racemic ketamine sublingual 25 mg",
        PKRequest(drug="racemic_ketamine", route="sublingual", dose_mg=25, at_h=_TIMES_H),
    ),
)


def run_demo(out: Path, console: Console, params: ParameterSet) -> dict[str, Any]:
    """The default scenario: PK of the standard regimens, then the whole chain for the
    default TRD course (six infusions) against an SSRI started the same day.  Writes
    ``pk_standard_regimens.png``, ``pk_summary.json``, ``cascade.png`` and
    ``trajectories.json`` into ``out``."""
    summary = _pk_demo(out, console)
    summary["course"] = _course_demo(out, console, params)
    console.print(DISCLAIMER, style="dim", soft_wrap=True)
    return summary


def _course_demo(out: Path, console: Console, params: ParameterSet) -> dict[str, Any]:
    from ketasim.model.scenario import DEFAULT_SCENARIO, course_report, simulate_scenario
    from ketasim.regimens import OralAntidepressant

    ketamine = course_report(simulate_scenario(DEFAULT_SCENARIO, params))
    ssri_scenario = DEFAULT_SCENARIO.model_copy(
        update={"name": "SSRI started day 0", "treatment": (OralAntidepressant(start_day=0),)}
    )
    ssri = course_report(simulate_scenario(ssri_scenario, params))
    figure = out / "cascade.png"
    plot_cascade([("six IV infusions (0.5 mg/kg)", ketamine), ("SSRI started day 0", ssri)], figure)
    with atomic_path(out / "trajectories.json") as tmp:
        payload = {"ketamine": ketamine.model_dump(mode="json"), "ssri": ssri.model_dump(mode="json")}
        tmp.write_text(json.dumps(payload, allow_nan=False), encoding="utf-8")
    table = Table(title="Default scenario: TRD, MADRS 32 — ketamine course vs SSRI started the same day")
    for col in ("day", "MADRS ketamine", "MADRS SSRI", "occupancy", "BDNF", "synapses"):
        table.add_column(col, justify="right")
    times = ketamine.times_h
    rows = {}
    for day in (0, 1, 2, 7, 14, 21, 28, 42):
        t = 24.0 * day + 12.0 if day else 0.0
        i = min(range(len(times)), key=lambda k: abs(times[k] - t))
        rows[day] = (ketamine.scales["MADRS"][i], ssri.scales["MADRS"][i])
        table.add_row(
            str(day),
            f"{ketamine.scales['MADRS'][i]:.1f}",
            f"{ssri.scales['MADRS'][i]:.1f}",
            f"{ketamine.states['nmda_occupancy'][i]:.2f}",
            f"{ketamine.states['bdnf'][i]:.2f}",
            f"{ketamine.states['synapses'][i]:.2f}",
        )
    console.print(table)
    console.print(f"wrote {figure} and {out / 'trajectories.json'}")
    return {"madrs_by_day": {str(d): {"ketamine": k, "ssri": s} for d, (k, s) in rows.items()}}


def _pk_demo(out: Path, console: Console) -> dict[str, Any]:
    results = {label: pk_profile(request) for label, request in STANDARD_REGIMENS}
    table = Table(title="PK of the standard regimens (70 kg, 40 y)")
    for col in ("regimen", "analyte", "Cmax (ng/mL)", "Tmax (h)", "AUC0-inf (ng·h/mL)", "t1/2 (h)"):
        table.add_column(col, justify="right")
    for label, profile in results.items():
        for analyte, s in profile.summary.items():
            table.add_row(
                label,
                analyte,
                f"{s.cmax_ng_ml:.1f}",
                f"{s.tmax_h:.2f}",
                "—" if s.auc_ng_h_ml is None else f"{s.auc_ng_h_ml:.0f}",
                "—" if s.half_life_h is None else f"{s.half_life_h:.1f}",
            )
    console.print(table)
    figure = out / "pk_standard_regimens.png"
    plot_pk_profiles([(label, p.times_h, p.concentrations_ng_ml) for label, p in results.items()], figure)
    summary = {label: {a: s.model_dump() for a, s in p.summary.items()} for label, p in results.items()}
    with atomic_path(out / "pk_summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    console.print(f"wrote {figure} and {out / 'pk_summary.json'}")
    return dict(summary)
