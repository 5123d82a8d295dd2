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
    """Simulate the standard regimens for a 70 kg, 40-year-old patient; print a summary
    table, write ``pk_standard_regimens.png`` and ``pk_summary.json`` into ``out``."""
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
    console.print(DISCLAIMER, style="dim", soft_wrap=True)
    return summary
