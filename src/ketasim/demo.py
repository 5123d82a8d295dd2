"""The built-in default scenario run by `make demo` (and by a test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ketasim import DISCLAIMER
from ketasim.io.figures import plot_pk_profiles
from ketasim.io.files import atomic_path
from ketasim.pk import PKRequest, pk_profile

_TIMES_H = tuple(round(k * 0.05, 2) for k in range(0, 24 * 20 + 1))  # every 3 min to 24 h

STANDARD_REGIMENS: tuple[tuple[str, PKRequest], ...] = (
    (
        "Racemic ketamine IV 0.5 mg/kg over 40 min",
        PKRequest("racemic_ketamine", "iv", dose_mg_per_kg=0.5, at_h=_TIMES_H),
    ),
    ("Esketamine nasal 56 mg", PKRequest("esketamine", "intranasal", dose_mg=56, at_h=_TIMES_H)),
    ("Esketamine nasal 84 mg", PKRequest("esketamine", "intranasal", dose_mg=84, at_h=_TIMES_H)),
    ("Racemic ketamine oral 50 mg", PKRequest("racemic_ketamine", "oral", dose_mg=50, at_h=_TIMES_H)),
    (
        "Racemic ketamine sublingual 25 mg",
        PKRequest("racemic_ketamine", "sublingual", dose_mg=25, at_h=_TIMES_H),
    ),
)


def run_demo(out: Path, console: Console) -> dict[str, Any]:
    """The default scenario: PK of the standard regimens, then the whole chain for the
    default TRD course (six infusions) against an SSRI started the same day.  Writes
    ``pk_standard_regimens.png``, ``pk_summary.json``, ``cascade.png`` and
    ``trajectories.json`` into ``out``."""
    summary = _pk_demo(out, console)
    summary["course"] = _course_demo(out, console)
    console.print(DISCLAIMER, style="dim", soft_wrap=True)
    return summary


def _course_demo(out: Path, console: Console) -> dict[str, Any]:
    from ketasim.io.figures import plot_cascade
    from ketasim.io.scenario import DEFAULT_SCENARIO
    from ketasim.regimens import OralAntidepressant
    from ketasim.simulate import course_json, simulate_scenario

    ketamine = course_json(simulate_scenario(DEFAULT_SCENARIO))
    ssri_scenario = DEFAULT_SCENARIO.model_copy(
        update={"name": "SSRI started day 0", "treatment": (OralAntidepressant(start_day=0),)}
    )
    ssri = course_json(simulate_scenario(ssri_scenario))
    figure = plot_cascade(
        [("six IV infusions (0.5 mg/kg)", ketamine), ("SSRI started day 0", ssri)], out / "cascade.png"
    )
    with atomic_path(out / "trajectories.json") as tmp:
        tmp.write_text(json.dumps({"ketamine": ketamine, "ssri": ssri}), encoding="utf-8")
    table = Table(title="Default scenario: TRD, MADRS 32 — ketamine course vs SSRI started the same day")
    for col in ("day", "MADRS ketamine", "MADRS SSRI", "occupancy", "BDNF", "synapses"):
        table.add_column(col, justify="right")
    times = ketamine["times_h"]
    rows = {}
    for day in (0, 1, 2, 7, 14, 21, 28, 42):
        t = 24.0 * day + 12.0 if day else 0.0
        i = min(range(len(times)), key=lambda k: abs(times[k] - t))
        rows[day] = (ketamine["scales"]["MADRS"][i], ssri["scales"]["MADRS"][i])
        table.add_row(
            str(day),
            f"{ketamine['scales']['MADRS'][i]:.1f}",
            f"{ssri['scales']['MADRS'][i]:.1f}",
            f"{ketamine['states']['nmda_occupancy'][i]:.2f}",
            f"{ketamine['states']['bdnf'][i]:.2f}",
            f"{ketamine['states']['synapses'][i]:.2f}",
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
        for analyte, s in profile["summary"].items():
            table.add_row(
                label,
                analyte,
                f"{s['cmax_ng_ml']:.1f}",
                f"{s['tmax_h']:.2f}",
                f"{s['auc_ng_h_ml']:.0f}",
                f"{s['half_life_h']:.1f}",
            )
    console.print(table)
    figure = plot_pk_profiles(
        [(label, p["times_h"], p["concentrations_ng_ml"]) for label, p in results.items()],
        out / "pk_standard_regimens.png",
    )
    summary = {label: p["summary"] for label, p in results.items()}
    with atomic_path(out / "pk_summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    console.print(f"wrote {figure} and {out / 'pk_summary.json'}")
    return dict(summary)
