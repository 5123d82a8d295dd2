"""Virtual-trial designs as YAML or JSON files (docs/trials.md), validated before anything runs.

A design names a condition and a rating scale, a population, two or more arms (each a
list of regimens), parallel or crossover allocation, a sample size, dropout, the
assessment days and the endpoints.  Every problem is reported with its field path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import Field, ValidationError, model_validator

from ketasim.covariates import Covariates
from ketasim.errors import DoseError, TrialError
from ketasim.io.files import read_mapping
from ketasim.model import check_treatment
from ketasim.population import POPULATION_WEIGHT_RANGE_KG
from ketasim.regimens import KetamineSessions, OralAntidepressant, PlaceboSessions, TreatmentItem
from ketasim.schema import Count, Real, StrictModel
from ketasim.vocabulary import AdverseEventName, ConditionName, ScaleName
from ketasim.vocabulary import condition as condition_entry
from ketasim.vocabulary import scale as scale_entry

MAX_PATIENTS_PER_ARM = 10_000_000
MAX_REPLICATES = 10_000
Day = Annotated[Real, Field(ge=0, le=3650)]


class PopulationSpec(StrictModel):
    """Who is enrolled: baseline severity on the design's scale and the inclusion criteria."""

    baseline_mean: Real | None = Field(default=None, ge=0)
    female_fraction: Real = Field(default=0.584, ge=0, le=1)
    failed_trials_min: Count = Field(default=0, ge=0, le=20)
    failed_trials_max: Count = Field(default=0, ge=0, le=20)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.failed_trials_max < self.failed_trials_min:
            raise ValueError(
                f"failed_trials_max: {self.failed_trials_max} is below failed_trials_min {self.failed_trials_min}"
            )
        return self


class Arm(StrictModel):
    """One arm: a list of regimens given together."""

    treatment: tuple[TreatmentItem, ...] = Field(min_length=1, max_length=50)
    label: str | None = Field(default=None, max_length=200)


class _Endpoint(StrictModel):
    name: str | None = Field(default=None, max_length=200)


class MeanChange(_Endpoint):
    """Mean change from baseline (SD) at ``day``; lower is better."""

    type: Literal["mean_change"]
    day: Day


class Proportion(_Endpoint):
    """Fraction responding or remitting (the scale's definitions) at ``day``."""

    type: Literal["response", "remission"]
    day: Day


class TimeToResponse(_Endpoint):
    """Kaplan–Meier median days to first response (censored at the last assessment)."""

    type: Literal["time_to_response"]


class SustainedResponse(_Endpoint):
    """Fraction responding at every assessment from ``from_day`` to ``to_day``."""

    type: Literal["sustained_response"]
    from_day: Day
    to_day: Day


class Relapse(_Endpoint):
    """Among responders at ``responders_at_day``: Kaplan–Meier median days to loss of
    response (score back above the response threshold)."""

    type: Literal["relapse"]
    responders_at_day: Day


class AdverseEvent(_Endpoint):
    """Fraction of patients with the event at least once during the course."""

    type: Literal["adverse_event"]
    event: AdverseEventName


Endpoint = Annotated[
    MeanChange | Proportion | TimeToResponse | SustainedResponse | Relapse | AdverseEvent,
    Field(discriminator="type"),
]


def endpoint_name(e: Endpoint) -> str:
    """A short, stable name such as ``response_day_15`` (or the design's own ``name``)."""
    if e.name:
        return e.name
    if isinstance(e, MeanChange | Proportion):
        return f"{e.type}_day_{e.day:g}"
    if isinstance(e, SustainedResponse):
        return f"sustained_response_day_{e.from_day:g}_to_{e.to_day:g}"
    if isinstance(e, Relapse):
        return f"relapse_among_responders_day_{e.responders_at_day:g}"
    if isinstance(e, AdverseEvent):
        return f"adverse_event_{e.event}"
    return e.type


class TrialDesign(StrictModel):
    """A virtual clinical trial."""

    name: str = Field(max_length=200)
    source: str | None = Field(default=None, max_length=2000)
    condition: ConditionName
    scale: ScaleName
    population: PopulationSpec = PopulationSpec()
    allocation: Literal["parallel", "crossover"] = "parallel"
    n_per_arm: Count = Field(gt=0, le=MAX_PATIENTS_PER_ARM)
    dropout_fraction: Real = Field(default=0.0, ge=0, lt=1)
    arms: dict[str, Arm] = Field(min_length=1, max_length=20)
    control: str | None = None
    assessment_days: tuple[Day, ...] = Field(min_length=1, max_length=200)
    endpoints: tuple[Endpoint, ...] = Field(min_length=1, max_length=100)
    replicates: Count = Field(default=1, ge=1, le=MAX_REPLICATES)
    alpha: Real = Field(default=0.05, gt=0, lt=1)
    seed: Count = Field(default=1, ge=0, le=2**63 - 1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        allowed = condition_entry(self.condition).scales
        if self.scale not in allowed:
            raise ValueError(f"scale: {self.scale!r} is not a scale of {self.condition}; allowed: {', '.join(allowed)}")
        if self.control is not None and self.control not in self.arms:
            raise ValueError(f"control: {self.control!r} is not an arm; arms: {', '.join(self.arms)}")
        days = list(self.assessment_days)
        if days != sorted(set(days)) or days[0] < 0:
            raise ValueError("assessment_days: must be increasing, without repeats, from day 0 on")
        s = scale_entry(self.scale)
        if self.population.baseline_mean is not None and not s.contains(self.population.baseline_mean):
            raise ValueError(
                f"population.baseline_mean: {self.population.baseline_mean:g} is outside {self.scale}'s range "
                f"{s.min:g}–{s.max:g}"
            )
        names = [endpoint_name(e) for e in self.endpoints]
        if len(set(names)) != len(names):
            raise ValueError("endpoints: two endpoints have the same name; give one a `name`")
        last = days[-1]
        for i, e in enumerate(self.endpoints):
            for fld in ("day", "from_day", "to_day", "responders_at_day"):
                value = getattr(e, fld, None)
                if value is not None and value not in days:
                    raise ValueError(f"endpoints[{i}].{fld}: day {value:g} is not an assessment day (assessment_days)")
            if isinstance(e, SustainedResponse) and e.to_day < e.from_day:
                raise ValueError(f"endpoints[{i}].to_day: {e.to_day:g} is before from_day {e.from_day:g}")
        for arm_name, arm in self.arms.items():
            for j, item in enumerate(arm.treatment):
                end = item.start_day if isinstance(item, OralAntidepressant) else max(item.days)
                if end > last + 1e-9 + 365:
                    raise ValueError(f"arms.{arm_name}.treatment[{j}]: runs past the last assessment by over a year")
        return self

    @property
    def follow_up_days(self) -> float:
        """Last assessment day (days after the first session)."""
        return float(self.assessment_days[-1])

    @property
    def baseline_mean(self) -> float:
        """The design's baseline mean, else the condition's typical baseline on the scale."""
        if self.population.baseline_mean is not None:
            return self.population.baseline_mean
        return condition_entry(self.condition).typical_baseline_on(self.scale)

    @property
    def control_arm(self) -> str | None:
        """The comparator: ``control`` if given, else the first arm with no ketamine, else None."""
        if self.control is not None:
            return self.control
        for name, arm in self.arms.items():
            if not any(isinstance(i, KetamineSessions) for i in arm.treatment):
                return name
        return None


def check_doses(design: TrialDesign) -> None:
    """Refuse any dose outside clinical bounds for the population's weight range, naming the
    arm and regimen (``arms.ketamine.treatment[0].dose_mg``)."""
    lo, hi = POPULATION_WEIGHT_RANGE_KG
    weights = Covariates(np.array([lo, hi]), np.array([40.0, 40.0]), np.array([False, False]))
    for arm_name, arm in design.arms.items():
        try:
            check_treatment(arm.treatment, weights, prefix=f"arms.{arm_name}.treatment")
        except DoseError as err:
            raise TrialError(err.problems) from None


def parse_design(data: Any) -> TrialDesign:
    """Validate a design given as a mapping (YAML/JSON content or an HTTP body)."""
    if not isinstance(data, dict):
        raise TrialError.one("(file)", "a trial design is a mapping of keys to values")
    try:
        design = TrialDesign.model_validate(data)
    except ValidationError as err:
        raise TrialError.from_validation(err, data) from None
    check_doses(design)
    return design


def load_design(path: str | Path) -> TrialDesign:
    """Read and validate a trial design file (.yaml, .yml or .json)."""
    return parse_design(read_mapping(path, TrialError, "a trial design"))


__all__ = [
    "AdverseEvent",
    "Arm",
    "Endpoint",
    "MeanChange",
    "PlaceboSessions",
    "Proportion",
    "Relapse",
    "SustainedResponse",
    "TimeToResponse",
    "TrialDesign",
    "TrialError",
    "endpoint_name",
    "load_design",
    "parse_design",
]
