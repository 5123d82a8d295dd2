"""One dose, one patient: the concentration profile and its NCA summary (``ketasim pk``,
``POST /api/pk``)."""

from __future__ import annotations

import itertools
import math
from typing import Self

import numpy as np
from pydantic import BaseModel, Field, model_validator

from ketasim.covariates import AGE_RANGE_YEARS, WEIGHT_RANGE_KG, Covariates, Sex
from ketasim.errors import DoseError, InputError
from ketasim.pk._model import load_model
from ketasim.pk.nca import compute_nca
from ketasim.regimens import DEFAULT_INFUSION_MIN, DOSE_FIELD_NAMES, MIN_AMOUNT_MG, MIN_AMOUNT_MG_PER_KG, Dose
from ketasim.schema import Real, StrictModel, as_model
from ketasim.vocabulary import DrugName, RouteName, vocabulary

DEFAULT_TIMES_H: tuple[float, ...] = tuple(
    [round(k / 6, 4) for k in range(13)] + [2.5, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24]
)
MAX_TIMES = 2000
MAX_TIME_H = 24.0 * 365
SUMMARY_HORIZON_H = 72.0
SUMMARY_STEP_H = 1.0 / 30.0  # 2 min


class PKRequest(StrictModel):
    """One dose to one patient, and the times to report (validated on construction)."""

    drug: DrugName = "racemic_ketamine"
    route: RouteName = "iv"
    dose_mg: Real | None = Field(default=None, ge=MIN_AMOUNT_MG, le=1000)
    dose_mg_per_kg: Real | None = Field(default=None, ge=MIN_AMOUNT_MG_PER_KG, le=20)
    duration_min: Real | None = Field(default=None, gt=0, le=24 * 60)
    weight_kg: Real = Field(default=70.0, ge=WEIGHT_RANGE_KG[0], le=WEIGHT_RANGE_KG[1])
    age_years: Real = Field(default=40.0, ge=AGE_RANGE_YEARS[0], le=AGE_RANGE_YEARS[1])
    sex: Sex = "male"
    at_h: tuple[Real, ...] = Field(default=DEFAULT_TIMES_H, min_length=1, max_length=MAX_TIMES)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.dose_mg is None) == (self.dose_mg_per_kg is None):
            raise ValueError("dose_mg: give exactly one of dose_mg and dose_mg_per_kg")
        if self.duration_min is not None and not vocabulary().routes[self.route].infusion:
            raise ValueError(f"duration_min: an infusion duration applies to route iv only, not {self.route!r}")
        if any(t < 0 or t > MAX_TIME_H for t in self.at_h):
            raise ValueError(f"at_h: times must lie between 0 and {MAX_TIME_H:g} h")
        if any(b <= a for a, b in itertools.pairwise(self.at_h)):
            raise ValueError("at_h: times must be strictly increasing")
        return self

    def dose(self) -> Dose:
        """The dose record; IV doses default to a 40-minute infusion."""
        duration_min = self.duration_min
        if duration_min is None and vocabulary().routes[self.route].infusion:
            duration_min = DEFAULT_INFUSION_MIN
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


class NCASummary(BaseModel):
    """NCA of one analyte on a dense internal grid (every 2 min to 72 h); None where the
    profile has no terminal phase to estimate."""

    cmax_ng_ml: float
    tmax_h: float
    auc_ng_h_ml: float | None = Field(description="AUC from 0 to infinity")
    half_life_h: float | None = Field(description="terminal half-life")


class PKProfile(BaseModel):
    """The ``ketasim pk`` result: venous concentrations at ``times_h`` per analyte (parent
    first), and the parent's arterial concentration (the front end of an IV infusion)."""

    times_h: list[float]
    concentrations_ng_ml: dict[str, list[float]]
    arterial_parent_ng_ml: list[float]
    summary: dict[str, NCASummary]


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def pk_profile(request: PKRequest) -> PKProfile:
    """Concentrations at ``at_h`` and an NCA summary per analyte (parent first).

    The summary is computed on a dense internal grid (every 2 min to 72 h), not on
    ``at_h``, so that it describes the model's profile whatever times were asked for.
    Raises :class:`ketasim.errors.DoseError` for a dose outside the clinical bounds, named
    by the request's fields (``dose_mg``, ``duration_min``).
    """
    request = as_model(PKRequest, request, InputError, "request")
    model = load_model(request.drug)
    dose = request.dose()
    cov = request.covariates()
    try:
        model.route(dose.route)
        model.check_dose(dose, request.weight_kg)
    except DoseError as err:
        raise err.renamed(DOSE_FIELD_NAMES) from None
    at_h = np.asarray(request.at_h, dtype=np.float64)
    result = model.simulate([dose], at_h, cov)
    grid = np.arange(0.0, SUMMARY_HORIZON_H + SUMMARY_STEP_H / 2, SUMMARY_STEP_H)
    dense = model.simulate([dose], grid, cov)
    summary: dict[str, NCASummary] = {}
    for analyte in model.analytes:
        nca = compute_nca(grid, dense.concentrations_ng_ml[analyte][0])
        summary[analyte] = NCASummary(
            cmax_ng_ml=nca.cmax_ng_ml,
            tmax_h=nca.tmax_h,
            auc_ng_h_ml=_finite(nca.auc_0_inf_ng_h_ml),
            half_life_h=_finite(nca.half_life_h),
        )
    return PKProfile(
        times_h=[float(t) for t in at_h],
        concentrations_ng_ml={a: [float(c) for c in result.concentrations_ng_ml[a][0]] for a in model.analytes},
        arterial_parent_ng_ml=[float(c) for c in result.arterial_ng_ml[model.analytes[0]][0]],
        summary=summary,
    )
