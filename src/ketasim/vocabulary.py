"""ketasim's vocabulary: drugs, routes, species, placebo kinds, adverse events, rating scales,
conditions, and the clinic's history flags and medication classes.

The names and their attributes are data (``data/vocabulary.yaml``); this module reads them
once and offers them to the rest of the package: typed records (:class:`Scale`, with the
response and remission rules), validated string types for pydantic schemas (whose JSON
schema lists the allowed values), and :func:`check` for everything else (CLI flags, rule
files).  No other module lists these names.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from ketasim.io.data import read_packaged_yaml

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
_EPS = 1e-9


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Drug(_Entry):
    """A drug ketasim simulates: its default PK model and the session kind it gives."""

    title: str
    pk_model: str
    session_kind: str
    source: str


class Route(_Entry):
    """A route of administration (``infusion``: given over a duration, e.g. IV)."""

    title: str
    infusion: bool


class Placebo(_Entry):
    """A placebo session: inert (saline, nasal placebo) or active (midazolam); or a clinic
    visit with no dose (``session_kick: false``), which keeps the patient in treatment (the
    sustained expectancy) without the per-session expectancy kick."""

    title: str
    active: bool
    session_kick: bool = True


class Titled(_Entry):
    """A name with a human-readable title."""

    title: str


class Scale(_Entry):
    """A rating scale: range, direction and the response and remission rules of its sources.

    >>> s = scale("MADRS")
    >>> bool(s.responded(np.array([15.0]), np.array([30.0]))[0]), bool(s.remitted(np.array([10.0]))[0])
    (True, False)
    """

    name: str
    direction: Literal["lower_is_better"]
    domain: str
    min: float
    max: float
    response_drop: float = Field(gt=0, lt=1)
    remission_max: float
    source: str

    def responded(self, scores: FloatArray, baseline: FloatArray | float) -> BoolArray:
        """Response: a fall of at least ``response_drop`` of the baseline (arrays broadcast)."""
        return np.asarray(np.asarray(scores) <= (1.0 - self.response_drop) * np.asarray(baseline) + _EPS)

    def remitted(self, scores: FloatArray, at_most: float | None = None) -> BoolArray:
        """Remission: a score at or below ``remission_max`` (or a trial's own ``at_most``)."""
        cut = self.remission_max if at_most is None else at_most
        return np.asarray(np.asarray(scores) <= cut + _EPS)

    def bounded(self, scores: FloatArray) -> FloatArray:
        """Scores within the scale's range."""
        return np.clip(scores, self.min, self.max)

    def contains(self, score: float) -> bool:
        """True when ``score`` lies in the scale's range."""
        return self.min <= score <= self.max


class Condition(_Entry):
    """A condition: the same mechanism with its own scales (and calibrated gains)."""

    title: str
    domain: str
    scales: tuple[str, ...]
    default_scale: str
    typical_baseline: dict[str, float]
    typical_baseline_source: str
    source: str
    failed_trials: tuple[int, int] = (0, 0)
    """Failed adequate antidepressant trials in the episode, drawn uniformly in [lo, hi]
    when a design does not say (the oral antidepressant's effect falls with them)."""
    failed_trials_source: str | None = None

    def typical_baseline_on(self, scale_name: str) -> float:
        """The condition's typical baseline on a scale (mid-range where none is sourced)."""
        s = scale(scale_name)
        return self.typical_baseline.get(scale_name, 0.5 * s.max)


class Vocabulary(_Entry):
    """Every name ketasim knows, by kind."""

    drugs: dict[str, Drug]
    augmentation_drugs: dict[str, Titled]
    routes: dict[str, Route]
    species: dict[str, Titled]
    placebos: dict[str, Placebo]
    adverse_events: dict[str, Titled]
    scales: dict[str, Scale]
    conditions: dict[str, Condition]
    history_flags: dict[str, Titled]
    medication_classes: dict[str, Titled]
    antidepressant_classes: dict[str, Titled]


Kind = Literal[
    "drugs",
    "augmentation_drugs",
    "routes",
    "species",
    "placebos",
    "adverse_events",
    "scales",
    "conditions",
    "history_flags",
    "medication_classes",
    "antidepressant_classes",
]
_NOUN: dict[str, str] = {
    "drugs": "drug",
    "augmentation_drugs": "augmentation drug",
    "routes": "route",
    "species": "receptor-active species",
    "placebos": "placebo kind",
    "adverse_events": "modelled adverse event",
    "scales": "rating scale",
    "conditions": "condition",
    "history_flags": "history flag",
    "medication_classes": "medication class",
    "antidepressant_classes": "oral antidepressant class",
}


@cache
def vocabulary() -> Vocabulary:
    """The packaged vocabulary (``data/vocabulary.yaml``), checked for consistency."""
    raw: dict[str, Any] = read_packaged_yaml("vocabulary.yaml")
    raw["scales"] = {name: {**entry, "name": name} for name, entry in raw["scales"].items()}
    vocab = Vocabulary.model_validate(raw)
    for name, cond in vocab.conditions.items():
        unknown = [s for s in (*cond.scales, cond.default_scale, *cond.typical_baseline) if s not in vocab.scales]
        if unknown or cond.default_scale not in cond.scales:
            raise ValueError(f"vocabulary.yaml: condition {name} names unknown scales {unknown}")
    return vocab


def names(kind: Kind) -> tuple[str, ...]:
    """The names of one kind, in file order."""
    entries: Mapping[str, object] = getattr(vocabulary(), kind)
    return tuple(entries)


def check(kind: Kind, value: object, field: str | None = None) -> str:
    """``value`` if it is a name of ``kind``; else ``ValueError`` naming the field, the value and
    the allowed names."""
    allowed = names(kind)
    if isinstance(value, str) and value in allowed:
        return value
    where = f"{field}: " if field else ""
    raise ValueError(f"{where}{value!r} is not a {_NOUN[kind]}; allowed: {', '.join(allowed)}")


def scale(name: str) -> Scale:
    """A rating scale by name (``ValueError`` listing the scales for an unknown one)."""
    return vocabulary().scales[check("scales", name)]


def condition(name: str) -> Condition:
    """A condition by name (``ValueError`` listing the conditions for an unknown one)."""
    return vocabulary().conditions[check("conditions", name)]


def drug(name: str) -> Drug:
    """A drug by name."""
    return vocabulary().drugs[check("drugs", name)]


def session_kinds() -> tuple[str, ...]:
    """What a clinic session can be: a drug's session kind or a placebo kind."""
    return tuple(d.session_kind for d in vocabulary().drugs.values()) + names("placebos")


def _enum(kind: Kind) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": list(names(kind))})


DrugName = Annotated[str, AfterValidator(lambda v: check("drugs", v)), _enum("drugs")]
AugmentationDrugName = Annotated[
    str, AfterValidator(lambda v: check("augmentation_drugs", v)), _enum("augmentation_drugs")
]
RouteName = Annotated[str, AfterValidator(lambda v: check("routes", v)), _enum("routes")]
SpeciesName = Annotated[str, AfterValidator(lambda v: check("species", v)), _enum("species")]
PlaceboName = Annotated[str, AfterValidator(lambda v: check("placebos", v)), _enum("placebos")]
AdverseEventName = Annotated[str, AfterValidator(lambda v: check("adverse_events", v)), _enum("adverse_events")]
ScaleName = Annotated[str, AfterValidator(lambda v: check("scales", v)), _enum("scales")]
ConditionName = Annotated[str, AfterValidator(lambda v: check("conditions", v)), _enum("conditions")]
HistoryFlag = Annotated[str, AfterValidator(lambda v: check("history_flags", v)), _enum("history_flags")]
MedicationClass = Annotated[str, AfterValidator(lambda v: check("medication_classes", v)), _enum("medication_classes")]
AntidepressantClass = Annotated[
    str, AfterValidator(lambda v: check("antidepressant_classes", v)), _enum("antidepressant_classes")
]
"""Validated names for pydantic schemas: a ``str`` of the vocabulary, listed in the JSON schema."""
