"""Scenario files (YAML or JSON): one patient, a treatment, a follow-up (docs/scenarios.md).

Validated with pydantic before anything is computed: unknown keys, missing fields and
impossible values are refused with the field's path and the allowed values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ketasim.pd._params import condition_scales, scales
from ketasim.population import AGE_RANGE_YEARS, WEIGHT_RANGE_KG, Sex
from ketasim.regimens import KetamineSessions, OralAntidepressant, TreatmentItem


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Vitals(_Strict):
    """Resting vital signs before treatment."""

    systolic_mmhg: float = Field(default=120.0, ge=70, le=250)
    diastolic_mmhg: float = Field(default=80.0, ge=40, le=150)
    heart_rate_bpm: float = Field(default=70.0, ge=30, le=200)


class Patient(_Strict):
    """The patient: covariates, condition and baseline scores."""

    weight_kg: float = Field(default=70.0, ge=WEIGHT_RANGE_KG[0], le=WEIGHT_RANGE_KG[1])
    age_years: float = Field(default=40.0, ge=AGE_RANGE_YEARS[0], le=AGE_RANGE_YEARS[1])
    sex: Sex = "male"
    condition: str = "trd"
    baseline: dict[str, float] = Field(default_factory=lambda: {"MADRS": 32.0}, min_length=1)
    vitals: Vitals = Vitals()
    crp_mg_l: float | None = Field(default=None, ge=0, le=500)

    @model_validator(mode="after")
    def _check(self) -> Self:
        allowed = condition_scales(self.condition)
        for scale, value in self.baseline.items():
            if scale not in allowed:
                raise ValueError(
                    f"baseline.{scale}: not a scale used for {self.condition}; allowed: {', '.join(allowed)}"
                )
            s = scales()[scale]
            if not (s.min <= value <= s.max):
                raise ValueError(f"baseline.{scale}: {value:g} is outside the scale's range {s.min:g}–{s.max:g}")
        return self


def _default_treatment() -> tuple[TreatmentItem, ...]:
    return (KetamineSessions(drug="racemic_ketamine", route="iv", dose_mg_per_kg=0.5, days=(0, 2, 4, 7, 9, 11)),)


class Scenario(_Strict):
    """A patient, a treatment and how long to follow them."""

    name: str = "scenario"
    patient: Patient = Patient()
    treatment: tuple[TreatmentItem, ...] = Field(default_factory=_default_treatment, min_length=1)
    follow_up_days: float = Field(default=42.0, gt=0, le=365)
    output_step_h: float = Field(default=0.5, ge=1 / 12, le=24)

    @model_validator(mode="after")
    def _check(self) -> Self:
        last = 0.0
        for item in self.treatment:
            last = max(last, item.start_day) if isinstance(item, OralAntidepressant) else max(last, max(item.days))
        if last > self.follow_up_days:
            raise ValueError(f"treatment runs to day {last:g}, after follow_up_days = {self.follow_up_days:g}")
        return self


DEFAULT_SCENARIO = Scenario(
    name="default: TRD, six IV infusions of 0.5 mg/kg over 40 min, to day 42", output_step_h=0.25
)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (.yaml, .yml or .json)."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    data: Any = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ScenarioError([("(file)", "a scenario is a mapping of keys to values")])
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError.from_validation(err) from None


class ScenarioError(ValueError):
    """A scenario file that failed validation: (field path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in problems))

    @classmethod
    def from_validation(cls, err: ValidationError) -> ScenarioError:
        """Field paths like ``patient.baseline.MADRS`` or ``treatment[0].days``."""
        return cls(problems_from_errors(err.errors()))


def problems_from_errors(errors: Sequence[Any], skip: int = 0) -> list[tuple[str, str]]:
    """(field path, message) from pydantic's error list (the first ``skip`` loc parts dropped,
    e.g. FastAPI's ``body``); a model-level check that names its own field is moved to it."""
    problems = []
    for e in errors:
        parts: list[str] = []
        for loc in list(e["loc"])[skip:]:
            if isinstance(loc, int):
                parts[-1:] = [f"{parts[-1]}[{loc}]"] if parts else [f"[{loc}]"]
            elif loc in ("ketamine", "placebo", "oral_antidepressant"):
                continue  # the discriminator's branch name
            else:
                parts.append(str(loc))
        message = str(e["msg"]).removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown key (not allowed here)"
        sub = re.match(r"^([A-Za-z0-9_.\-\[\]]+): (.*)$", message)
        if sub:  # a model-level check naming its own field
            parts.append(sub.group(1))
            message = sub.group(2)
        problems.append((".".join(parts) or "(body)", message))
    return problems
