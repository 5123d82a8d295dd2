"""One immutable parameter set for the mechanism: sourced fixed values and calibrated values.

A :class:`ParameterSet` holds every number the model uses beyond the published PK models
(``data/pk/``): the fixed values of ``data/pd/cascade.yaml`` — each with unit, source and
whether it is rodent-derived or assumed — and the values fitted by ``ketasim calibrate``,
each with its unit, meaning and the fit it comes from.  It is passed explicitly down the
model (``simulate_course(..., params=...)``, trials, the planner, the API); nothing reads
parameters from a global.  Changing a value gives a new set (Pharmpy's ``Model.replace``):

>>> p = default_parameters()
>>> q = p.replace(efficacy_emax=0.5)
>>> q["efficacy_emax"], p["efficacy_emax"] != 0.5
(0.5, True)
>>> p["cascade.tau_bdnf_h"]
1.0

Names: a fixed value is ``section.name`` (``cascade.tau_bdnf_h``, as in ``cascade.yaml``); a
calibrated value is a plain name (``efficacy_emax``, as in ``free_parameters.yaml``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ketasim.errors import ParameterError
from ketasim.io.data import read_packaged_yaml
from ketasim.io.files import read_mapping
from ketasim.schema import Count, Real

Status = Literal["published", "assumed", "calibrated"]
PACKAGED_CALIBRATION = "calibrated.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Entry(_Strict):
    """One parameter with its provenance (PK-Sim style)."""

    value: float
    unit: str
    source: str
    status: Status
    rodent: bool = False
    note: str | None = None


class _FixedEntry(_Strict):
    value: float
    unit: str
    source: str
    rodent: bool = False
    assumed: bool = False
    note: str | None = None


class FreeParameter(_Strict):
    """A parameter no source fixes: what it means, its unit and the fit's search box."""

    name: str
    unit: str
    stage: Literal["glutamate", "efficacy", "adverse"]
    start: float
    low: float
    high: float
    log: bool = True
    shrunk: bool = False
    """A relative gain shrunk toward 1 by the calibration's log-normal prior (SD 0.5, assumed)."""
    uninformed: float | None = None
    """Where a fit holds it when none of its targets reads it (a cross-validation fold without
    the studies that inform it): 1 for a shrunk gain (the prior's centre), else this declared
    null (no effect), else the start.  Never a fitted value: starts come from full fits, which
    read the held-out studies."""
    meaning: str

    @model_validator(mode="after")
    def _check_uninformed(self) -> FreeParameter:
        if self.uninformed is not None and not self.low <= self.uninformed <= self.high:
            raise ValueError(
                f"{self.name}: uninformed {self.uninformed} is outside the search box {self.low}..{self.high}"
            )
        return self

    @property
    def held_value(self) -> float:
        """The value a fit that cannot inform this parameter uses (:attr:`uninformed`)."""
        if self.uninformed is not None:
            return self.uninformed
        return 1.0 if self.shrunk else min(max(self.start, self.low), self.high)


class ParameterFit(_Strict):
    """How well the data pin a fitted value: its approximate 95% interval from the
    least-squares Jacobian at the optimum (Wald, on the fitted scale), and its status."""

    ci95: tuple[float, float] | None
    status: Literal["identified", "weakly_identified", "at_bound", "not_identifiable"]
    """identified: the 95% interval spans less than a factor 10 (or ±50% of the box on a
    linear scale); weakly_identified: wider; at_bound: the estimate sits on its search-box
    bound (kept there, see the notes); not_identifiable: the targets do not move it."""


class FoldFit(_Strict):
    """One cross-validation fold: the sources held out, their targets, and the values
    fitted without them."""

    fold: Count
    sources: tuple[str, ...]
    held_out: tuple[str, ...]
    values: dict[str, Real]
    objective: Real


class Calibration(_Strict):
    """A parameter file written by ``ketasim calibrate``: the fitted values and their fit."""

    fit_date: str
    method: str
    values: dict[str, Real]
    targets_used: tuple[str, ...]
    objective: Real | None = None
    notes: tuple[str, ...] = ()
    uncertainty: dict[str, ParameterFit] = {}
    cross_validation: tuple[FoldFit, ...] = ()


@cache
def fixed_entries() -> Mapping[str, Entry]:
    """The sourced fixed values (``data/pd/cascade.yaml``) as ``section.name`` → entry."""
    raw: dict[str, dict[str, Any]] = read_packaged_yaml("pd/cascade.yaml")
    out: dict[str, Entry] = {}
    for section, entries in raw.items():
        for name, spec in entries.items():
            e = _FixedEntry.model_validate(spec)
            status: Status = "assumed" if e.assumed else "published"
            out[f"{section}.{name}"] = Entry(
                value=e.value, unit=e.unit, source=e.source, status=status, rodent=e.rodent, note=e.note
            )
    return MappingProxyType(out)


@cache
def free_parameters() -> tuple[FreeParameter, ...]:
    """The calibrated parameters' declarations (``data/pd/free_parameters.yaml``), in fit order."""
    raw: dict[str, dict[str, Any]] = read_packaged_yaml("pd/free_parameters.yaml")
    return tuple(FreeParameter.model_validate({"name": name, **spec}) for name, spec in raw.items())


@dataclass(frozen=True)
class ParameterSet:
    """Every mechanism parameter, immutable; ``replace`` gives a changed copy."""

    entries: Mapping[str, Entry]
    calibration: Calibration
    origin: str = "packaged"
    _values: Mapping[str, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_values", MappingProxyType({k: e.value for k, e in self.entries.items()}))

    def __getitem__(self, name: str) -> float:
        try:
            return self._values[name]
        except KeyError:
            raise ParameterError.one(name, "is not a parameter of ketasim (see `ketasim params mechanism`)") from None

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __hash__(self) -> int:
        return hash(self.digest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParameterSet) and self.digest == other.digest

    def get(self, name: str, default: float) -> float:
        """A value, or ``default`` when the set has no such parameter."""
        return self._values.get(name, default)

    def entry(self, name: str) -> Entry:
        """A parameter with its unit and provenance."""
        if name not in self.entries:
            raise ParameterError.one(name, "is not a parameter of ketasim (see `ketasim params mechanism`)")
        return self.entries[name]

    @property
    def names(self) -> tuple[str, ...]:
        """Every parameter name (fixed first, then calibrated)."""
        return tuple(self.entries)

    @cached_property
    def digest(self) -> str:
        """A short hash of every value: equal sets have equal digests (used for caches)."""
        text = ";".join(f"{k}={v!r}" for k, v in sorted(self._values.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def replace(self, values: Mapping[str, float] | None = None, /, **named: float) -> ParameterSet:
        """A copy with some values changed (``ParameterError`` for an unknown name or a value
        that is not a finite number)."""
        changes = {**(values or {}), **named}
        entries = dict(self.entries)
        for name, value in changes.items():
            if name not in entries:
                raise ParameterError.one(name, "is not a parameter of ketasim (see `ketasim params mechanism`)")
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ParameterError.one(name, f"{value!r} is not allowed: a finite number")
            entries[name] = entries[name].model_copy(update={"value": float(value)})
        return ParameterSet(MappingProxyType(entries), self.calibration, self.origin)

    def calibrated_values(self) -> dict[str, float]:
        """The calibrated values, by name."""
        return {k: e.value for k, e in self.entries.items() if e.status == "calibrated"}

    def table_markdown(self) -> str:
        """Markdown tables: the fixed values with their sources, then the calibrated values."""
        lines = ["| parameter | value | unit | source |", "|---|---|---|---|"]
        for name, e in self.entries.items():
            if e.status == "calibrated":
                continue
            tags = (" **rodent**" if e.rodent else "") + (" **assumed**" if e.status == "assumed" else "")
            note = f" — {e.note}" if e.note else ""
            lines.append(f"| `{name}` | {e.value:g} | {e.unit} | {e.source}{tags}{note} |")
        cal = self.calibration
        lines += [
            "",
            f"Calibrated values ({self.origin}, fit {cal.fit_date}; {cal.method}):",
            "",
            "| parameter | value | unit | meaning |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{k}` | {e.value:g} | {e.unit} | {e.note} |"
            for k, e in self.entries.items()
            if e.status == "calibrated"
        ]
        return "\n".join(lines)


def _value_problems(where: str, values: Mapping[str, float], declared: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every free parameter given once, known, and inside its fit's range."""
    problems = [(f"{where}.{n}", "missing: every free parameter needs a value") for n in declared if n not in values]
    for name, value in values.items():
        p = declared.get(name)
        if p is None:
            problems.append((f"{where}.{name}", "is not a free parameter (data/pd/free_parameters.yaml)"))
        elif not (p.low * (1 - 1e-9) <= value <= p.high * (1 + 1e-9)):
            problems.append((f"{where}.{name}", f"{value:g} is outside the fit's range {p.low:g}–{p.high:g}"))
    return problems


def _build(cal: Calibration, origin: str) -> ParameterSet:
    declared = {p.name: p for p in free_parameters()}
    problems = _value_problems("values", cal.values, declared)
    for fold in cal.cross_validation:
        problems += _value_problems(f"cross_validation[{fold.fold}].values", fold.values, declared)
    if problems:
        raise ParameterError(problems)
    entries = dict(fixed_entries())
    source = f"calibrated: {origin}, fit {cal.fit_date}"
    for name, p in declared.items():
        entries[name] = Entry(value=cal.values[name], unit=p.unit, source=source, status="calibrated", note=p.meaning)
    return ParameterSet(MappingProxyType(entries), cal, origin)


@cache
def default_parameters() -> ParameterSet:
    """The packaged parameter set (fixed values + ``data/calibrated.yaml``)."""
    cal = Calibration.model_validate(read_packaged_yaml(PACKAGED_CALIBRATION))
    return _build(cal, f"packaged {PACKAGED_CALIBRATION}")


def load_parameters(path: str | Path) -> ParameterSet:
    """The fixed values with the calibrated values of a file written by ``ketasim calibrate``."""
    data = read_mapping(path, ParameterError, "a parameter file")
    try:
        cal = Calibration.model_validate(data)
    except ValidationError as err:
        raise ParameterError.from_validation(err, data) from None
    return _build(cal, str(path))


def dump_calibration(cal: Calibration) -> str:
    """YAML text of a calibration, with a header saying it is generated."""
    header = (
        "# GENERATED by `ketasim calibrate` — do not edit by hand.\n"
        "# Re-run the command to reproduce; see docs/model.md for each parameter's meaning.\n"
    )
    return header + yaml.safe_dump(cal.model_dump(), sort_keys=False, allow_unicode=True)


__all__ = [
    "Calibration",
    "Entry",
    "FoldFit",
    "FreeParameter",
    "ParameterFit",
    "ParameterSet",
    "default_parameters",
    "dump_calibration",
    "fixed_entries",
    "free_parameters",
    "load_parameters",
]
