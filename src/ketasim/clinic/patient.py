"""The patient file of the clinical planner (YAML or JSON; docs/planner.md), validated first.

Missing weight or age, vitals outside physiological ranges, an unknown diagnosis, history
flag, medication class or scale, scores outside a scale's range and observed scores dated
before treatment are refused with the field's path and the allowed values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, ValidationError, model_validator

from ketasim.covariates import AGE_RANGE_YEARS, WEIGHT_RANGE_KG, Sex
from ketasim.errors import PlannerError
from ketasim.io.files import read_mapping
from ketasim.schema import Count, Flag, Label, Real, StrictModel
from ketasim.vocabulary import (
    AntidepressantClass,
    ConditionName,
    DrugName,
    HistoryFlag,
    MedicationClass,
    RouteName,
    vocabulary,
)
from ketasim.vocabulary import condition as condition_entry
from ketasim.vocabulary import scale as scale_entry

TREATMENTS = {
    ("racemic_ketamine", "iv"),
    ("esketamine", "intranasal"),
    ("racemic_ketamine", "oral"),
    ("racemic_ketamine", "sublingual"),
    ("racemic_ketamine", "im"),
}
"""Drug and route pairs with a published schedule the planner follows (consensus IV
infusions; the Spravato label; off-label oral, sublingual and IM series, data/clinic/schedules.yaml)."""
MAX_OBSERVED_SCORES = 500


class PatientVitals(StrictModel):
    """Resting vital signs at evaluation (physiological ranges)."""

    systolic_mmhg: Real = Field(ge=60, le=260)
    diastolic_mmhg: Real = Field(ge=30, le=160)
    heart_rate_bpm: Real = Field(ge=25, le=220)
    spo2_pct: Real = Field(ge=50, le=100)


class PlannedTreatment(StrictModel):
    """The method chosen by the clinic (optional: the planner proposes one)."""

    drug: DrugName
    route: RouteName

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.drug, self.route) not in TREATMENTS:
            allowed = ", ".join(f"{d} {r}" for d, r in sorted(TREATMENTS))
            raise ValueError(
                f"route: {self.drug} by {self.route} has no published schedule to plan; allowed: {allowed}"
            )
        return self


MAX_COURSE_DAY = 730
"""The last day of a course the planner takes a score from (day 0 is the first session)."""


class ObservedScore(StrictModel):
    """A score recorded during treatment; day 0 is the first session."""

    day: Real = Field(le=MAX_COURSE_DAY)
    scale: str
    score: Real


class PlanSettings(StrictModel):
    """The clinic's choices for this patient's plan (each optional; defaults and their sources
    in ``data/clinic/schedules.yaml`` and ``data/clinic/review.yaml``)."""

    keep_response_probability: Real | None = Field(default=None, gt=0, lt=1)
    """Maintenance: the widest interval whose forecast probability of staying in response
    (given response at the end of induction) is at least this."""
    partial_response_fraction: Real | None = Field(default=None, gt=0, lt=1)
    """Course review: an improvement from baseline below this fraction counts as no benefit."""
    escalation: tuple[Real, ...] | None = Field(default=None, max_length=4)
    """Dose steps when response is partial: mg/kg for IV, mg for esketamine; ``[]`` for none
    (default: the published steps)."""


class PatientFile(StrictModel):
    """One patient, as the clinic's evaluation records them."""

    name: Label = "patient"
    age_years: Real = Field(ge=AGE_RANGE_YEARS[0], le=AGE_RANGE_YEARS[1])
    sex: Sex
    weight_kg: Real = Field(ge=WEIGHT_RANGE_KG[0], le=WEIGHT_RANGE_KG[1])
    height_cm: Real = Field(ge=120, le=230)
    diagnoses: tuple[ConditionName, ...] = Field(min_length=1, max_length=10)
    failed_antidepressant_trials: Count = Field(ge=0, le=30)
    history: tuple[HistoryFlag, ...] = Field(default=(), max_length=50)
    concomitant_medications: tuple[MedicationClass, ...] = Field(default=(), max_length=50)
    pregnant: Flag = False
    vitals: PatientVitals
    baseline_scores: dict[str, Real] = Field(min_length=1, max_length=20)
    treatment: PlannedTreatment | None = None
    weight_basis: Literal["actual", "ideal", "adjusted"] = "actual"
    observed_scores: tuple[ObservedScore, ...] = Field(default=(), max_length=MAX_OBSERVED_SCORES)
    oral_antidepressant: AntidepressantClass | None = None
    """The oral antidepressant taken alongside the course (``none`` if none; unset = not recorded)."""
    planning: PlanSettings = PlanSettings()

    @model_validator(mode="after")
    def _check(self) -> Self:
        known = vocabulary().conditions
        if self.pregnant and self.sex == "male":
            raise ValueError("pregnant: true is not possible with sex: male")
        if self.vitals.diastolic_mmhg >= self.vitals.systolic_mmhg:
            raise ValueError(
                f"vitals.diastolic_mmhg: {self.vitals.diastolic_mmhg:g} must be below systolic "
                f"{self.vitals.systolic_mmhg:g}"
            )
        allowed = sorted({s for d in self.diagnoses for s in known[d].scales})
        for scale, value in self.baseline_scores.items():
            _check_score(f"baseline_scores.{scale}", scale, value, allowed)
        for i, obs in enumerate(self.observed_scores):
            if obs.day < 0:
                raise ValueError(f"observed_scores[{i}].day: {obs.day:g} is before treatment (day 0 = first session)")
            if obs.scale not in self.baseline_scores:
                raise ValueError(
                    f"observed_scores[{i}].scale: {obs.scale!r} has no baseline; scales with a baseline: "
                    f"{', '.join(self.baseline_scores)}"
                )
            _check_score(f"observed_scores[{i}].score", obs.scale, obs.score, allowed)
        if not any(s in known[self.diagnoses[0]].scales for s in self.baseline_scores):
            raise ValueError(
                f"baseline_scores: give a baseline on a scale of {self.diagnoses[0]} "
                f"({', '.join(known[self.diagnoses[0]].scales)})"
            )
        if self.baseline_scores[self.scale] <= 0:
            raise ValueError(
                f"baseline_scores.{self.scale}: 0 leaves nothing to forecast; a baseline above 0 on the forecast's "
                "scale is needed"
            )
        return self

    @property
    def condition(self) -> str:
        """The primary diagnosis (first listed): the model's condition."""
        return self.diagnoses[0]

    @property
    def scale(self) -> str:
        """The forecast's scale: the first baseline scale of the primary diagnosis."""
        own = condition_entry(self.condition).scales
        return next(s for s in self.baseline_scores if s in own)

    @property
    def bmi_kg_m2(self) -> float:
        """Body-mass index."""
        return self.weight_kg / (self.height_cm / 100.0) ** 2


def _check_score(field: str, name: str, value: float, allowed: list[str]) -> None:
    if name not in allowed:
        raise ValueError(f"{field}: {name!r} is not a scale of the diagnoses; allowed: {', '.join(allowed)}")
    s = scale_entry(name)
    if not s.contains(value):
        raise ValueError(f"{field}: {value:g} is outside {name}'s range {s.min:g}–{s.max:g}")


def parse_patient(data: Any) -> PatientFile:
    """Validate a patient given as a mapping (file content or an HTTP body)."""
    if not isinstance(data, dict):
        raise PlannerError.one("(file)", "a patient file is a mapping of keys to values")
    try:
        return PatientFile.model_validate(data)
    except ValidationError as err:
        raise PlannerError.from_validation(err, data) from None


def load_patient(path: str | Path) -> PatientFile:
    """Read and validate a patient file (.yaml, .yml or .json)."""
    return parse_patient(read_mapping(path, PlannerError, "a patient file"))
