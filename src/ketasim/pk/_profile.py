"""One dose, one patient: the concentration profile and its NCA summary (the `ketasim pk` contract)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ketasim.pk._model import PKModel, load_model
from ketasim.pk.nca import compute_nca
from ketasim.population import Covariates, Sex
from ketasim.regimens import Dose, Route

DEFAULT_TIMES_H: tuple[float, ...] = tuple(
    [round(k / 6, 4) for k in range(13)] + [2.5, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24]
)
SUMMARY_HORIZON_H = 72.0
SUMMARY_STEP_H = 1.0 / 30.0  # 2 min


@dataclass(frozen=True)
class PKRequest:
    """What `ketasim pk` (and ``POST /api/pk``) asks for, already validated for types."""

    drug: str
    route: Route
    dose_mg: float | None = None
    dose_mg_per_kg: float | None = None
    duration_min: float | None = None
    weight_kg: float = 70.0
    age_years: float = 40.0
    sex: Sex = "male"
    at_h: Sequence[float] = DEFAULT_TIMES_H

    def dose(self) -> Dose:
        """The dose record; IV doses default to a 40-minute infusion."""
        duration_min = self.duration_min
        if duration_min is None and self.route == "iv":
            duration_min = 40.0
        return Dose(
            time_h=0.0,
            amount_mg=self.dose_mg,
            amount_mg_per_kg=self.dose_mg_per_kg,
            route=self.route,
            duration_h=None if duration_min is None else duration_min / 60.0,
        )

    def covariates(self) -> Covariates:
        """The one patient."""
        return Covariates.one(self.weight_kg, self.age_years, self.sex)


def pk_profile(request: PKRequest) -> dict[str, Any]:
    """Concentrations at ``at_h`` and an NCA summary per analyte (parent first).

    The summary is computed on a dense internal grid (every 2 min to 72 h), not on
    ``at_h``, so that it describes the model's profile whatever times were asked for.
    Raises :class:`ketasim.pk.DoseError` for a dose outside the clinical bounds.
    """
    model: PKModel = load_model(request.drug)
    dose = request.dose()
    model.check_dose(dose, request.weight_kg)
    cov = request.covariates()
    at_h = np.asarray(request.at_h, dtype=np.float64)
    result = model.simulate([dose], at_h, cov)
    grid = np.arange(0.0, SUMMARY_HORIZON_H + SUMMARY_STEP_H / 2, SUMMARY_STEP_H)
    dense = model.simulate([dose], grid, cov)
    summary: dict[str, dict[str, float]] = {}
    for analyte in model.analytes:
        nca = compute_nca(grid, dense.concentrations_ng_ml[analyte][0])
        summary[analyte] = {
            "cmax_ng_ml": nca.cmax_ng_ml,
            "tmax_h": nca.tmax_h,
            "auc_ng_h_ml": nca.auc_0_inf_ng_h_ml,
            "half_life_h": nca.half_life_h,
        }
    return {
        "times_h": [float(t) for t in at_h],
        "concentrations_ng_ml": {a: [float(c) for c in result.concentrations_ng_ml[a][0]] for a in model.analytes},
        "summary": summary,
    }
