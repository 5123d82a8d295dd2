"""Dose records with NONMEM/mrgsolve semantics (see docs/dosing.md).

A :class:`Dose` is immutable and validated on construction: a bad field raises a
pydantic ``ValidationError`` naming the field, the value and the allowed range.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, model_validator

from ketasim.schema import Count, Real, StrictModel
from ketasim.vocabulary import RouteName

FloatArray = NDArray[np.float64]

#: Sanity floors on a record's amount, like its 5000 mg and 20 mg/kg ceilings: not clinical
#: bounds (those are the routes' in the PK files) but the least amount the simulator takes.
#: 1 µg is four orders below the smallest studied dose (0.1 mg/kg IV, Fava 2018: ~7 mg) and
#: keeps every concentration far above floating-point underflow, where the solver's
#: round-off rule (a fraction of the patient's peak) stops working.
MIN_AMOUNT_MG = 1e-3
MIN_AMOUNT_MG_PER_KG = 1e-5
MAX_AMOUNT_MG = 5000.0
MAX_AMOUNT_MG_PER_KG = 20.0


class Dose(StrictModel):
    """One dose record, optionally repeated.

    Fields follow NONMEM: ``time_h`` (TIME), ``amount_mg`` or ``amount_mg_per_kg`` (AMT,
    the latter × body weight), ``route``, an infusion given by ``duration_h`` (D1) or by
    ``rate_mg_per_h`` (RATE), ``bioavailability`` (F1, overriding the route's), ``lag_h``
    (ALAG1), and repeats ``interval_h`` (II) × ``additional`` (ADDL).

    >>> Dose(time_h=0, amount_mg_per_kg=0.5, duration_h=40 / 60).amount_for(80.0)
    40.0
    """

    time_h: Real = Field(default=0.0, ge=0.0, le=24.0 * 365 * 5)
    amount_mg: Real | None = Field(default=None, ge=MIN_AMOUNT_MG, le=MAX_AMOUNT_MG)
    amount_mg_per_kg: Real | None = Field(default=None, ge=MIN_AMOUNT_MG_PER_KG, le=MAX_AMOUNT_MG_PER_KG)
    route: RouteName = "iv"
    duration_h: Real | None = Field(default=None, ge=0.0, le=24.0)
    rate_mg_per_h: Real | None = Field(default=None, gt=0.0, le=1e6)
    bioavailability: Real | None = Field(default=None, gt=0.0, le=1.0)
    lag_h: Real = Field(default=0.0, ge=0.0, le=24.0)
    interval_h: Real | None = Field(default=None, gt=0.0, le=24.0 * 365)
    additional: Count = Field(default=0, ge=0, le=10_000)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.amount_mg is None) == (self.amount_mg_per_kg is None):
            raise ValueError("give exactly one of amount_mg or amount_mg_per_kg")
        if self.duration_h is not None and self.rate_mg_per_h is not None:
            raise ValueError("give an infusion's duration_h or its rate_mg_per_h, not both")
        if self.additional > 0 and self.interval_h is None:
            raise ValueError("additional > 0 needs interval_h (the dosing interval)")
        return self

    def amount_for(self, weight_kg: float) -> float:
        """Nominal amount (mg) for a patient of ``weight_kg``."""
        return float(self.amounts_for(np.array([weight_kg]))[0])

    def amounts_for(self, weight_kg: FloatArray) -> FloatArray:
        """Nominal amounts (mg) for patients of body weights ``weight_kg`` (kg), one per patient."""
        if self.amount_mg is not None:
            return np.full(np.shape(weight_kg), self.amount_mg)
        assert self.amount_mg_per_kg is not None
        return self.amount_mg_per_kg * np.asarray(weight_kg, dtype=np.float64)

    def durations_h(self, amount_mg: FloatArray) -> FloatArray:
        """How long (h) the input of each nominal amount runs: ``duration_h``, or the amount
        (× bioavailability) over ``rate_mg_per_h``; 0 for a bolus or an absorbed route."""
        if self.rate_mg_per_h is not None:
            return np.asarray(amount_mg, dtype=np.float64) * (self.bioavailability or 1.0) / self.rate_mg_per_h
        return np.full(np.shape(amount_mg), self.duration_h or 0.0)

    def occurrences(self) -> tuple[Dose, ...]:
        """This record and its repeats as single doses (ADDL expanded, II applied)."""
        if self.additional == 0:
            return (self,)
        assert self.interval_h is not None
        return tuple(
            self.model_copy(update={"time_h": self.time_h + k * self.interval_h, "additional": 0})
            for k in range(self.additional + 1)
        )


def expand(doses: tuple[Dose, ...] | list[Dose]) -> tuple[Dose, ...]:
    """All single doses of a regimen, repeats expanded, sorted by time."""
    singles = [single for dose in doses for single in dose.occurrences()]
    return tuple(sorted(singles, key=lambda d: d.time_h))
