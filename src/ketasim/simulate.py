"""One patient's scenario through the whole model (`ketasim simulate`, ``POST /api/simulate``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ketasim.io.scenario import Scenario, ScenarioError
from ketasim.model import CourseResult, check_treatment, simulate_course
from ketasim.pd.cascade import STATE_NAMES
from ketasim.pk import DoseError
from ketasim.population import Covariates

STATE_KEYS = (*STATE_NAMES, "inflammation_modifier")


def simulate_scenario(scenario: Scenario) -> CourseResult:
    """Simulate the scenario's typical patient (no random effects). Raises ``ScenarioError``
    naming the field for a dose outside clinical bounds, before computing anything."""
    p = scenario.patient
    cov = Covariates.one(p.weight_kg, p.age_years, p.sex)
    for i, item in enumerate(scenario.treatment):
        try:
            check_treatment([item], cov)
        except DoseError as err:
            field = {
                "amount_mg": "dose_mg",
                "amount_mg_per_kg": "dose_mg_per_kg",
                "duration_h": "duration_min",
            }.get(err.field, err.field)
            raise ScenarioError([(f"treatment[{i}].{field}", f"{err.value!r} is not allowed: {err.allowed}")]) from None
    horizon_h = 24.0 * scenario.follow_up_days
    times = np.arange(0.0, horizon_h + 1e-9, scenario.output_step_h)
    return simulate_course(
        scenario.treatment,
        cov,
        p.condition,
        {k: [v] for k, v in p.baseline.items()},
        horizon_h,
        times,
        vitals={k: np.array([v]) for k, v in p.vitals.model_dump().items()},
        crp_high=None if p.crp_mg_l is None else np.array([p.crp_mg_l >= 3.0]),
    )


def _series(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) if math.isfinite(float(v)) else 0.0 for v in values]


def course_json(result: CourseResult, patient: int = 0) -> dict[str, Any]:
    """The ``ketasim simulate`` JSON document for one patient of a result."""
    return {
        "times_h": _series(result.times_h),
        "concentrations_ng_ml": {k: _series(v[patient]) for k, v in result.concentrations_ng_ml.items()},
        "states": {k: _series(result.states[k][patient]) for k in STATE_KEYS if k in result.states},
        "scales": {k: _series(v[patient]) for k, v in result.scales.items()},
        "adverse": {k: _series(v[patient]) for k, v in result.adverse.items()},
        "sessions": [
            {
                k: (round(float(np.asarray(v).reshape(-1)[patient]), 6) if k not in ("kind",) else v)
                for k, v in row.items()
            }
            for row in result.sessions
        ],
        "flags": result.flags,
    }
