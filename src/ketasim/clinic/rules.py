"""Eligibility and safety rules: a small, closed condition language over the patient file.

The rules themselves are data (``data/clinic/rules.yaml``); this module only evaluates
their conditions.  Decision: ``not_eligible`` when any absolute contraindication is found,
``needs_review`` when a relative one is, ``eligible`` otherwise.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ketasim.clinic.patient import PatientFile, PlannerError
from ketasim.io.parameters import read_yaml
from ketasim.io.scenario import ScenarioError

Severity = Literal["absolute", "relative", "warning"]
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Threshold(_Strict):
    """A configurable number of a rule, with its source (``verify``: a [VERIFY] item)."""

    value: float
    source: str
    verify: bool = False


class Rule(_Strict):
    """One rule: when its condition holds, a finding of its severity."""

    id: str
    when: dict[str, Any]
    severity: Severity
    message: str
    source: str


class RuleSet(_Strict):
    """A rules file: thresholds and rules."""

    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    rules: tuple[Rule, ...] = Field(min_length=1)


@dataclass(frozen=True)
class Finding:
    """A rule that fired for this patient."""

    rule: str
    severity: Severity
    message: str
    source: str

    def as_json(self) -> dict[str, str]:
        """The ``findings`` row of the plan JSON."""
        return {"rule": self.rule, "severity": self.severity, "message": self.message, "source": self.source}


@cache
def default_rules() -> RuleSet:
    """The packaged rules (``data/clinic/rules.yaml``)."""
    return RuleSet.model_validate(read_yaml("clinic/rules.yaml"))


def load_rules(path: str | Path) -> RuleSet:
    """A clinic's own rules file (same schema); every condition is checked on a test patient."""
    try:
        rules = RuleSet.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    except (ValidationError, yaml.YAMLError) as err:
        problems = ScenarioError.from_validation(err).problems if isinstance(err, ValidationError) else []
        raise PlannerError(problems or [("(rules file)", str(err))]) from None
    return rules


def facts(patient: PatientFile, drug: str, route: str) -> dict[str, Any]:
    """What conditions may look at: the file's fields, derived values and the planned method."""
    return {
        "age_years": patient.age_years,
        "weight_kg": patient.weight_kg,
        "bmi_kg_m2": patient.bmi_kg_m2,
        "failed_antidepressant_trials": float(patient.failed_antidepressant_trials),
        "vitals": patient.vitals.model_dump(),
        "history": set(patient.history),
        "diagnoses": set(patient.diagnoses),
        "concomitant": set(patient.concomitant_medications),
        "pregnant": patient.pregnant,
        "drug": drug,
        "route": route,
    }


def _field(known: Mapping[str, Any], path: str) -> float:
    value: Any = known
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(f"unknown field {path!r} in a rule condition")
        value = value[part]
    return float(value)


def holds(cond: Mapping[str, Any], known: Mapping[str, Any], thresholds: Mapping[str, Threshold]) -> bool:
    """Evaluate one condition (see the header of ``rules.yaml`` for the forms)."""
    if len(cond) != 1:
        raise ValueError(f"a condition has exactly one key, got {sorted(cond)}")
    key, arg = next(iter(cond.items()))
    if key == "any":
        return any(holds(c, known, thresholds) for c in arg)
    if key == "all":
        return all(holds(c, known, thresholds) for c in arg)
    if key == "not":
        return not holds(arg, known, thresholds)
    if key == "history_any":
        return bool(known["history"] & set(arg))
    if key == "diagnosis_any":
        return bool(known["diagnoses"] & set(arg))
    if key == "concomitant_any":
        return bool(known["concomitant"] & set(arg))
    if key in ("drug", "route", "pregnant"):
        return bool(known[key] == arg)
    if key == "compare":
        limit = thresholds[arg["threshold"]].value if "threshold" in arg else float(arg["value"])
        return _OPS[arg["op"]](_field(known, arg["field"]), limit)
    raise ValueError(f"unknown condition {key!r}")


def screen(patient: PatientFile, drug: str, route: str, rules: RuleSet | None = None) -> list[Finding]:
    """Every rule that fires for the patient and the planned method, most severe first."""
    rs = rules or default_rules()
    known = facts(patient, drug, route)
    order = {"absolute": 0, "relative": 1, "warning": 2}
    found = [Finding(r.id, r.severity, r.message, r.source) for r in rs.rules if holds(r.when, known, rs.thresholds)]
    return sorted(found, key=lambda f: order[f.severity])


def decision(findings: list[Finding]) -> Literal["eligible", "not_eligible", "needs_review"]:
    """not_eligible on any absolute finding, needs_review on any relative one."""
    severities = {f.severity for f in findings}
    if "absolute" in severities:
        return "not_eligible"
    if "relative" in severities:
        return "needs_review"
    return "eligible"
