"""The patient file of the clinical planner (YAML or JSON; docs/planner.md), validated first.

Missing weight or age, vitals outside physiological ranges, an unknown diagnosis, history
flag, medication class or scale, scores outside a scale's range and observed scores dated
before treatment are refused with the field's path and the allowed values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, model_validator

from ketasim.io.files import read_document
from ketasim.io.scenario import ScenarioError
from ketasim.pd._params import conditions, scales
from ketasim.population import AGE_RANGE_YEARS, WEIGHT_RANGE_KG, Sex

HISTORY_FLAGS = (
    "aneurysmal_vascular_disease",
    "arteriovenous_malformation",
    "intracerebral_hemorrhage",
    "psychosis",
    "substance_use_disorder",
    "uncontrolled_hypertension",
    "cardiovascular_disease",
    "hepatic_impairment",
    "interstitial_cystitis",
    "ketamine_hypersensitivity",
)
MEDICATION_CLASSES = (
    "benzodiazepines",
    "non_benzodiazepine_hypnotics",
    "opioids",
    "psychostimulants",
    "mao_inhibitors",
)
TREATMENTS = {("racemic_ketamine", "iv"), ("esketamine", "intranasal")}
"""Drug and route pairs with a published schedule the planner follows (consensus IV
infusions; the Spravato label)."""


class PlannerError(ScenarioError):
    """A patient file that failed validation: (field path, message) pairs."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PatientVitals(_Strict):
    """Resting vital signs at evaluation (physiological ranges)."""

    systolic_mmhg: float = Field(ge=60, le=260)
    diastolic_mmhg: float = Field(ge=30, le=160)
    heart_rate_bpm: float = Field(ge=25, le=220)
    spo2_pct: float = Field(ge=50, le=100)


class PlannedTreatment(_Strict):
    """The method chosen by the clinic (optional: the planner proposes one)."""

    drug: Literal["racemic_ketamine", "esketamine"]
    route: Literal["iv", "intranasal"]

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.drug, self.route) not in TREATMENTS:
            allowed = ", ".join(f"{d} {r}" for d, r in sorted(TREATMENTS))
            raise ValueError(
                f"route: {self.drug} by {self.route} has no published schedule to plan; allowed: {allowed}"
            )
        return self


class ObservedScore(_Strict):
    """A score recorded during treatment; day 0 is the first session."""

    day: float = Field(le=730)
    scale: str
    score: float


class PatientFile(_Strict):
    """One patient, as the clinic's evaluation records them."""

    name: str = "patient"
    age_years: float = Field(ge=AGE_RANGE_YEARS[0], le=AGE_RANGE_YEARS[1])
    sex: Sex
    weight_kg: float = Field(ge=WEIGHT_RANGE_KG[0], le=WEIGHT_RANGE_KG[1])
    height_cm: float = Field(ge=120, le=230)
    diagnoses: tuple[str, ...] = Field(min_length=1)
    failed_antidepressant_trials: int = Field(ge=0, le=30)
    history: tuple[str, ...] = ()
    concomitant_medications: tuple[str, ...] = ()
    pregnant: StrictBool = False
    vitals: PatientVitals
    baseline_scores: dict[str, float] = Field(min_length=1)
    treatment: PlannedTreatment | None = None
    weight_basis: Literal["actual", "ideal", "adjusted"] = "actual"
    observed_scores: tuple[ObservedScore, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Self:
        known = conditions()
        for i, d in enumerate(self.diagnoses):
            if d not in known:
                raise ValueError(f"diagnoses[{i}]: {d!r} is unknown; allowed: {', '.join(known)}")
        for i, h in enumerate(self.history):
            if h not in HISTORY_FLAGS:
                raise ValueError(f"history[{i}]: {h!r} is unknown; allowed: {', '.join(HISTORY_FLAGS)}")
        for i, m in enumerate(self.concomitant_medications):
            if m not in MEDICATION_CLASSES:
                raise ValueError(
                    f"concomitant_medications[{i}]: {m!r} is unknown; allowed: {', '.join(MEDICATION_CLASSES)}"
                )
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
        return self

    @property
    def condition(self) -> str:
        """The primary diagnosis (first listed): the model's condition."""
        return self.diagnoses[0]

    @property
    def scale(self) -> str:
        """The forecast's scale: the first baseline scale of the primary diagnosis."""
        own = conditions()[self.condition].scales
        return next(s for s in self.baseline_scores if s in own)

    @property
    def bmi_kg_m2(self) -> float:
        """Body-mass index."""
        return self.weight_kg / (self.height_cm / 100.0) ** 2


def _check_score(field: str, scale: str, value: float, allowed: list[str]) -> None:
    if scale not in scales() or scale not in allowed:
        raise ValueError(f"{field}: {scale!r} is not a scale of the diagnoses; allowed: {', '.join(allowed)}")
    s = scales()[scale]
    if not s.min <= value <= s.max:
        raise ValueError(f"{field}: {value:g} is outside {scale}'s range {s.min:g}–{s.max:g}")


def parse_patient(data: Any) -> PatientFile:
    """Validate a patient given as a mapping (file content or an HTTP body)."""
    if not isinstance(data, dict):
        raise PlannerError([("(file)", "a patient file is a mapping of keys to values")])
    try:
        return PatientFile.model_validate(data)
    except ValidationError as err:
        raise PlannerError(ScenarioError.from_validation(err).problems) from None


def load_patient(path: str | Path) -> PatientFile:
    """Read and validate a patient file (.yaml, .yml or .json)."""
    try:
        data = read_document(path)
    except ValueError as err:
        raise PlannerError([("(file)", str(err))]) from None
    return parse_patient(data)
