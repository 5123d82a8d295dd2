"""One patient's scenario through the whole model (``ketasim simulate``, ``POST /api/simulate``).

A scenario file (YAML or JSON; docs/scenarios.md) is validated before anything is computed:
unknown keys, missing fields, impossible values, NaN and booleans for numbers are refused
with the field's path and what is allowed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Self

import numpy as np
from pydantic import BaseModel, Field, ValidationError, model_validator

from ketasim import DISCLAIMER
from ketasim.covariates import AGE_RANGE_YEARS, WEIGHT_RANGE_KG, Covariates, Sex
from ketasim.errors import DoseError, ScenarioError
from ketasim.io.files import read_mapping
from ketasim.model.course import CourseResult, check_treatment
from ketasim.model.simulate import simulate_course
from ketasim.params import ParameterSet, default_parameters
from ketasim.pd.adverse import Flag
from ketasim.pd.cascade import STATE_NAMES
from ketasim.population import typical_gains
from ketasim.regimens import KetamineSessions, TreatmentItem, treatment_end_day
from ketasim.schema import Label, Real, StrictModel, as_model
from ketasim.vocabulary import ConditionName, ScaleName
from ketasim.vocabulary import condition as condition_entry
from ketasim.vocabulary import scale as scale_entry

STATE_KEYS = (*STATE_NAMES, "inflammation_modifier")
MAX_OUTPUT_TIMES = 20_000
CRP_HIGH_MG_L = 3.0
"""Low-grade inflammation: CRP ≥ 3 mg/L (Chen et al. 2024/25 Pharmacopsychiatry; see
``cascade.inflammation_gain_reduction``)."""


class Vitals(StrictModel):
    """Resting vital signs before treatment."""

    systolic_mmhg: Real = Field(default=120.0, ge=70, le=250)
    diastolic_mmhg: Real = Field(default=80.0, ge=40, le=150)
    heart_rate_bpm: Real = Field(default=70.0, ge=30, le=200)


class Patient(StrictModel):
    """The patient: covariates, condition and baseline scores."""

    weight_kg: Real = Field(default=70.0, ge=WEIGHT_RANGE_KG[0], le=WEIGHT_RANGE_KG[1])
    age_years: Real = Field(default=40.0, ge=AGE_RANGE_YEARS[0], le=AGE_RANGE_YEARS[1])
    sex: Sex = "male"
    condition: ConditionName = "trd"
    baseline: dict[ScaleName, Real] = Field(default_factory=lambda: {"MADRS": 32.0}, min_length=1, max_length=20)
    vitals: Vitals = Vitals()
    crp_mg_l: Real | None = Field(default=None, ge=0, le=500)

    @model_validator(mode="after")
    def _check(self) -> Self:
        allowed = condition_entry(self.condition).scales
        for name, value in self.baseline.items():
            if name not in allowed:
                raise ValueError(
                    f"baseline.{name}: not a scale used for {self.condition}; allowed: {', '.join(allowed)}"
                )
            s = scale_entry(name)
            if not s.contains(value):
                raise ValueError(f"baseline.{name}: {value:g} is outside the scale's range {s.min:g}–{s.max:g}")
        return self


def _default_treatment() -> tuple[TreatmentItem, ...]:
    return (KetamineSessions(drug="racemic_ketamine", route="iv", dose_mg_per_kg=0.5, days=(0, 2, 4, 7, 9, 11)),)


class Scenario(StrictModel):
    """A patient, a treatment and how long to follow them."""

    name: Label = "scenario"
    patient: Patient = Patient()
    treatment: tuple[TreatmentItem, ...] = Field(default_factory=_default_treatment, min_length=1, max_length=50)
    follow_up_days: Real = Field(default=42.0, gt=0, le=365)
    output_step_h: Real = Field(default=0.5, ge=1 / 12, le=24)

    @model_validator(mode="after")
    def _check(self) -> Self:
        last = 0.0
        for item in self.treatment:
            last = max(last, treatment_end_day(item))
        if last > self.follow_up_days:
            raise ValueError(f"follow_up_days: {self.follow_up_days:g} ends before the treatment (day {last:g})")
        points = math.floor(24.0 * self.follow_up_days / self.output_step_h) + 1
        if points > MAX_OUTPUT_TIMES:
            raise ValueError(
                f"output_step_h: {self.output_step_h:g} h over {self.follow_up_days:g} days gives {points:,} output "
                f"times; at most {MAX_OUTPUT_TIMES:,} (choose a larger step)"
            )
        return self


DEFAULT_SCENARIO = Scenario(
    name="default: TRD, six IV infusions of 0.5 mg/kg over 40 min, to day 42", output_step_h=0.25
)


def parse_scenario(data: object) -> Scenario:
    """Validate a scenario given as a mapping (file content or an HTTP body)."""
    if not isinstance(data, dict):
        raise ScenarioError.one("(file)", "a scenario is a mapping of keys to values")
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError.from_validation(err, data) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (.yaml, .yml or .json)."""
    return parse_scenario(read_mapping(path, ScenarioError, "a scenario"))


def simulate_scenario(scenario: Scenario, params: ParameterSet | None = None) -> CourseResult:
    """Simulate the scenario's typical patient (no random effects). Raises ``ScenarioError``
    naming the field for a dose outside clinical bounds, before computing anything."""
    scenario = as_model(Scenario, scenario, ScenarioError, "scenario")
    p = scenario.patient
    cov = Covariates.one(p.weight_kg, p.age_years, p.sex)
    try:
        check_treatment(scenario.treatment, cov)
    except DoseError as err:
        raise ScenarioError(err.problems) from None
    horizon_h = 24.0 * scenario.follow_up_days
    times = np.arange(0.0, horizon_h + 1e-9, scenario.output_step_h)
    return simulate_course(
        scenario.treatment,
        cov,
        p.condition,
        {k: [v] for k, v in p.baseline.items()},
        horizon_h,
        times,
        params=params,
        vitals={k: np.array([v]) for k, v in p.vitals.model_dump().items()},
        crp_high=None if p.crp_mg_l is None else np.array([p.crp_mg_l >= CRP_HIGH_MG_L]),
        gains=typical_gains(params or default_parameters(), p.condition, age_years=p.age_years),
    )


class SessionReport(BaseModel):
    """One clinic session of the course."""

    time_h: float
    kind: str = Field(description="a drug's session kind (ketamine, esketamine) or a placebo kind")
    peak_occupancy: float = Field(description="peak NMDA occupancy within 4 h of the session's start")
    peak_time_after_start_h: float
    event_probability: dict[str, float] = Field(description="probability of each adverse event at this session")


class CourseReport(BaseModel):
    """The ``ketasim simulate`` result for one patient: every series at ``times_h``."""

    times_h: list[float]
    concentrations_ng_ml: dict[str, list[float]]
    states: dict[str, list[float]] = Field(description="receptor and cascade states (activation indices)")
    scales: dict[str, list[float]]
    adverse: dict[str, list[float]] = Field(description="CADSS and its drive, blood pressure, heart rate, tolerance")
    sessions: list[SessionReport]
    flags: list[Flag]
    disclaimer: str = DISCLAIMER


def _series(values: np.ndarray) -> list[float]:
    out = [round(float(v), 6) for v in values]
    if not all(math.isfinite(v) for v in out):
        raise ValueError("the simulation produced a non-finite value")  # never reported as a number
    return out


def course_report(result: CourseResult, patient: int = 0) -> CourseReport:
    """The ``ketasim simulate`` result for one patient of a course."""
    return CourseReport(
        times_h=_series(result.times_h),
        concentrations_ng_ml={k: _series(v[patient]) for k, v in result.concentrations_ng_ml.items()},
        states={k: _series(result.states[k][patient]) for k in STATE_KEYS if k in result.states},
        scales={k: _series(v[patient]) for k, v in result.scales.items()},
        adverse={k: _series(v[patient]) for k, v in result.adverse.items()},
        sessions=[
            SessionReport(
                time_h=s.time_h,
                kind=s.kind,
                peak_occupancy=round(float(s.peak_occupancy[patient]), 6),
                peak_time_after_start_h=round(float(s.peak_time_after_start_h[patient]), 6),
                event_probability={k: round(float(v[patient]), 6) for k, v in s.event_probability.items()},
            )
            for s in result.sessions
        ],
        flags=result.flags,
    )
