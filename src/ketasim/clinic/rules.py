"""Eligibility and safety rules: a small, closed condition language over the patient file.

The rules themselves are data (``data/clinic/rules.yaml``, or a clinic's own file); this
module checks them on load — every flag, diagnosis, medication class, drug and route against
the vocabulary, every field, operator and threshold against what a condition may use, and
the nesting against :data:`MAX_DEPTH` — and then evaluates them.  A misspelt flag is
refused when the file is read, naming the rule, never silently ignored.

Decision: ``not_eligible`` when any absolute contraindication is found, ``needs_review``
when a relative one is, ``eligible`` otherwise.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from ketasim.clinic.patient import PatientFile
from ketasim.errors import Problem, RulesError
from ketasim.io.data import read_packaged_yaml
from ketasim.io.files import read_mapping
from ketasim.schema import Flag, Real, StrictModel
from ketasim.vocabulary import Kind, names

Severity = Literal["absolute", "relative", "warning"]
Decision = Literal["eligible", "not_eligible", "needs_review"]
MAX_DEPTH = 8
"""How deeply ``any``/``all``/``not`` may nest."""
MAX_RULES = 500
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}
FIELDS = (
    "age_years",
    "weight_kg",
    "bmi_kg_m2",
    "failed_antidepressant_trials",
    "vitals.systolic_mmhg",
    "vitals.diastolic_mmhg",
    "vitals.heart_rate_bpm",
    "vitals.spo2_pct",
)
"""The numbers a ``compare`` condition may look at."""
PLANNER_THRESHOLDS = {
    "obesity_bmi_kg_m2": "dosing weight",
    "trd_failed_trials": "method by indication",
    "older_adult_age_years": "esketamine starting dose",
}
"""Thresholds every rules file must define: the planner itself reads them."""
_SETS: dict[str, tuple[str, Kind]] = {
    "history_any": ("history", "history_flags"),
    "diagnosis_any": ("diagnoses", "conditions"),
    "concomitant_any": ("concomitant", "medication_classes"),
    "oral_antidepressant_any": ("oral_antidepressant", "antidepressant_classes"),
}
_EQUALS: dict[str, Kind | None] = {"drug": "drugs", "route": "routes", "pregnant": None}


class Threshold(StrictModel):
    """A configurable number of a rule, with its source (``verify``: a [VERIFY] item)."""

    value: Real
    source: str = Field(max_length=2000)
    verify: Flag = False


class _RawRule(StrictModel):
    id: str = Field(min_length=1, max_length=100)
    when: dict[str, Any]
    severity: Severity
    message: str = Field(max_length=2000)
    source: str = Field(max_length=2000)


class _RawRuleSet(StrictModel):
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    rules: tuple[_RawRule, ...] = Field(min_length=1, max_length=MAX_RULES)


Facts = Mapping[str, Any]


@dataclass(frozen=True)
class Condition:
    """A compiled condition: ``holds(facts)``."""

    def holds(self, facts: Facts) -> bool:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


@dataclass(frozen=True)
class AnyOf(Condition):
    items: tuple[Condition, ...]

    def holds(self, facts: Facts) -> bool:
        return any(c.holds(facts) for c in self.items)


@dataclass(frozen=True)
class AllOf(Condition):
    items: tuple[Condition, ...]

    def holds(self, facts: Facts) -> bool:
        return all(c.holds(facts) for c in self.items)


@dataclass(frozen=True)
class Not(Condition):
    item: Condition

    def holds(self, facts: Facts) -> bool:
        return not self.item.holds(facts)


@dataclass(frozen=True)
class Intersects(Condition):
    """A set of the patient (history, diagnoses, medications) shares a listed name."""

    fact: str
    values: frozenset[str]

    def holds(self, facts: Facts) -> bool:
        return bool(facts[self.fact] & self.values)


@dataclass(frozen=True)
class Equals(Condition):
    """The planned drug or route, or pregnancy, equals a value."""

    fact: str
    value: str | bool

    def holds(self, facts: Facts) -> bool:
        return bool(facts[self.fact] == self.value)


@dataclass(frozen=True)
class Compare(Condition):
    """A number of the patient compared with a value or a named threshold."""

    field: str
    op: str
    limit: float

    def holds(self, facts: Facts) -> bool:
        value: Any = facts
        for part in self.field.split("."):
            value = value[part]
        return OPERATORS[self.op](float(value), self.limit)


def compile_condition(raw: Any, path: str, thresholds: Mapping[str, Threshold], depth: int = 1) -> Condition:
    """A checked condition, or :class:`RulesError` naming ``path`` (e.g. ``rules[3].when.any[1]``)."""

    def refuse(message: str, where: str = path) -> RulesError:
        return RulesError.one(where, message)

    if depth > MAX_DEPTH:
        raise refuse(f"conditions nest more than {MAX_DEPTH} levels deep")
    if not isinstance(raw, dict) or len(raw) != 1:
        raise refuse("a condition is a mapping with exactly one key")
    key, arg = next(iter(raw.items()))
    where = f"{path}.{key}"
    if key in ("any", "all"):
        if not isinstance(arg, list) or not arg:
            raise refuse(f"{key} takes a non-empty list of conditions", where)
        items = tuple(compile_condition(c, f"{where}[{i}]", thresholds, depth + 1) for i, c in enumerate(arg))
        return AnyOf(items) if key == "any" else AllOf(items)
    if key == "not":
        return Not(compile_condition(arg, where, thresholds, depth + 1))
    if key in _SETS:
        fact, kind = _SETS[key]
        if not isinstance(arg, list) or not arg:
            raise refuse(f"{key} takes a non-empty list", where)
        allowed = names(kind)
        for i, value in enumerate(arg):
            if value not in allowed:
                raise refuse(f"{value!r} is unknown; allowed: {', '.join(allowed)}", f"{where}[{i}]")
        return Intersects(fact, frozenset(arg))
    if key in _EQUALS:
        kind_or_none = _EQUALS[key]
        if kind_or_none is None:
            if not isinstance(arg, bool):
                raise refuse(f"{arg!r} is not allowed: true or false", where)
        elif arg not in names(kind_or_none):
            raise refuse(f"{arg!r} is unknown; allowed: {', '.join(names(kind_or_none))}", where)
        return Equals(key, arg)
    if key == "compare":
        return _compile_compare(arg, where, thresholds)
    allowed_keys = ("any", "all", "not", *_SETS, *_EQUALS, "compare")
    raise refuse(f"{key!r} is not a condition; allowed: {', '.join(allowed_keys)}")


def _compile_compare(arg: Any, where: str, thresholds: Mapping[str, Threshold]) -> Compare:
    if not isinstance(arg, dict):
        raise RulesError.one(where, "compare takes {field, op, value | threshold}")
    extra = sorted(set(arg) - {"field", "op", "value", "threshold"})
    if extra:
        raise RulesError.one(f"{where}.{extra[0]}", "unknown key; allowed: field, op, value, threshold")
    field = arg.get("field")
    if field not in FIELDS:
        raise RulesError.one(f"{where}.field", f"{field!r} is not a field; allowed: {', '.join(FIELDS)}")
    op = arg.get("op")
    if op not in OPERATORS:
        raise RulesError.one(f"{where}.op", f"{op!r} is not an operator; allowed: {', '.join(OPERATORS)}")
    if ("value" in arg) == ("threshold" in arg):
        raise RulesError.one(where, "give exactly one of value and threshold")
    if "threshold" in arg:
        name = arg["threshold"]
        if name not in thresholds:
            allowed = ", ".join(thresholds) or "(none defined)"
            raise RulesError.one(f"{where}.threshold", f"{name!r} is not a threshold of the file; allowed: {allowed}")
        return Compare(field, op, thresholds[name].value)
    value = arg["value"]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or abs(value) == float("inf"):
        raise RulesError.one(f"{where}.value", f"{value!r} is not allowed: a finite number")
    return Compare(field, op, float(value))


@dataclass(frozen=True)
class Rule:
    """One rule: when its condition holds, a finding of its severity."""

    id: str
    when: Condition
    severity: Severity
    message: str
    source: str


@dataclass(frozen=True)
class RuleSet:
    """A checked rules file: thresholds and rules."""

    thresholds: Mapping[str, Threshold]
    rules: tuple[Rule, ...]


class Finding(BaseModel):
    """A rule that fired for this patient."""

    rule: str
    severity: Severity
    message: str
    source: str


def parse_rules(data: Any) -> RuleSet:
    """Check a rules document (a mapping) and compile its conditions; every problem is
    reported with its path."""
    if not isinstance(data, dict):
        raise RulesError.one("(file)", "a rules file is a mapping with thresholds and rules")
    try:
        raw = _RawRuleSet.model_validate(data)
    except ValidationError as err:
        raise RulesError.from_validation(err, data) from None
    problems: list[Problem] = []
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, r in enumerate(raw.rules):
        if r.id in seen:
            problems.append((f"rules[{i}].id", f"{r.id!r} is used by an earlier rule"))
        seen.add(r.id)
        try:
            when = compile_condition(r.when, f"rules[{i}].when", raw.thresholds)
            rules.append(Rule(r.id, when, r.severity, r.message, r.source))
        except RulesError as err:
            problems += [(f, f"(rule {r.id}) {m}") for f, m in err.problems]
    problems += [
        ("thresholds", f"{name!r} is missing: the planner uses it ({why})")
        for name, why in PLANNER_THRESHOLDS.items()
        if name not in raw.thresholds
    ]
    if problems:
        raise RulesError(problems)
    return RuleSet(raw.thresholds, tuple(rules))


@cache
def default_rules() -> RuleSet:
    """The packaged rules (``data/clinic/rules.yaml``)."""
    return parse_rules(read_packaged_yaml("clinic/rules.yaml"))


def load_rules(path: str | Path) -> RuleSet:
    """A clinic's own rules file (same schema), checked before any patient is planned."""
    return parse_rules(read_mapping(path, RulesError, "a rules file"))


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
        "oral_antidepressant": set() if patient.oral_antidepressant is None else {patient.oral_antidepressant},
        "pregnant": patient.pregnant,
        "drug": drug,
        "route": route,
    }


def screen(patient: PatientFile, drug: str, route: str, rules: RuleSet | None = None) -> list[Finding]:
    """Every rule that fires for the patient and the planned method, most severe first."""
    rs = rules or default_rules()
    known = facts(patient, drug, route)
    order = {"absolute": 0, "relative": 1, "warning": 2}
    found = [
        Finding(rule=r.id, severity=r.severity, message=r.message, source=r.source)
        for r in rs.rules
        if r.when.holds(known)
    ]
    return sorted(found, key=lambda f: order[f.severity])


def decision(findings: Sequence[Finding]) -> Decision:
    """not_eligible on any absolute finding, needs_review on any relative one."""
    severities = {f.severity for f in findings}
    if "absolute" in severities:
        return "not_eligible"
    if "relative" in severities:
        return "needs_review"
    return "eligible"
