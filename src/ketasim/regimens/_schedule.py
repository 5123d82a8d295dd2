"""Treatment schedules as users write them: sessions on days, placebo, oral antidepressants.

A :class:`Treatment` is a list of items; each item is one of

* :class:`KetamineSessions` — ketamine or esketamine by a route, on listed days;
* :class:`PlaceboSessions` — saline (inert) or midazolam (active placebo) sessions on days;
* :class:`OralAntidepressant` — an SSRI/SNRI started (or already taken) from a day on.

These are the building blocks of scenarios (one patient), trial arms and clinic plans.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from ketasim.regimens._dose import Dose, Route

DrugName = Literal["racemic_ketamine", "esketamine"]
MAX_DAY = 730.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KetamineSessions(_Strict):
    """Ketamine or esketamine sessions: one dose per listed day, at ``hour_of_day``."""

    kind: Literal["ketamine"] = "ketamine"
    drug: DrugName = "racemic_ketamine"
    route: Route = "iv"
    dose_mg: float | None = Field(default=None, gt=0, le=1000)
    dose_mg_per_kg: float | None = Field(default=None, gt=0, le=20)
    duration_min: float | None = Field(default=None, gt=0, le=24 * 60)
    days: tuple[float, ...] = Field(min_length=1, max_length=500)
    hour_of_day: float = Field(default=9.0, ge=0, lt=24)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.dose_mg is None) == (self.dose_mg_per_kg is None):
            raise ValueError("give exactly one of dose_mg or dose_mg_per_kg")
        if self.duration_min is not None and self.route != "iv":
            raise ValueError("duration_min applies to route 'iv' only")
        if any(d < 0 or d > MAX_DAY for d in self.days):
            raise ValueError(f"days must lie between 0 and {MAX_DAY:g}")
        if list(self.days) != sorted(set(self.days)):
            raise ValueError("days must be increasing, without repeats")
        return self

    def doses(self) -> list[Dose]:
        """Dose records (IV infusions default to 40 min, the clinics' standard)."""
        duration_min = self.duration_min
        if self.route == "iv" and duration_min is None:
            duration_min = 40.0
        return [
            Dose(
                time_h=24.0 * day + self.hour_of_day,
                amount_mg=self.dose_mg,
                amount_mg_per_kg=self.dose_mg_per_kg,
                route=self.route,
                duration_h=None if duration_min is None else duration_min / 60.0,
            )
            for day in self.days
        ]


class PlaceboSessions(_Strict):
    """Placebo sessions: ``saline`` (inert, incl. nasal placebo) or ``midazolam`` (active)."""

    kind: Literal["placebo"] = "placebo"
    placebo: Literal["saline", "midazolam"] = "saline"
    days: tuple[float, ...] = Field(min_length=1, max_length=500)
    hour_of_day: float = Field(default=9.0, ge=0, lt=24)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if any(d < 0 or d > MAX_DAY for d in self.days):
            raise ValueError(f"days must lie between 0 and {MAX_DAY:g}")
        if list(self.days) != sorted(set(self.days)):
            raise ValueError("days must be increasing, without repeats")
        return self


class OralAntidepressant(_Strict):
    """A monoaminergic oral antidepressant (SSRI/SNRI) taken daily from ``start_day``.

    ``newly_started`` is True when the drug starts with the course (its weeks-long onset
    then plays out); False for an antidepressant the patient was already taking.
    """

    kind: Literal["oral_antidepressant"] = "oral_antidepressant"
    start_day: float = Field(default=0.0, ge=0, le=MAX_DAY)
    newly_started: StrictBool = True


TreatmentItem = Annotated[KetamineSessions | PlaceboSessions | OralAntidepressant, Field(discriminator="kind")]


def session_times_h(items: Sequence[TreatmentItem]) -> list[float]:
    """Times (h) of every clinic session (ketamine or placebo), sorted."""
    times: set[float] = set()
    for item in items:
        if isinstance(item, KetamineSessions | PlaceboSessions):
            times.update(24.0 * d + item.hour_of_day for d in item.days)
    return sorted(times)


def course_start_h(items: Sequence[TreatmentItem]) -> float:
    """Time zero of a course (h): the first clinic session, else the antidepressant's start."""
    sessions = session_times_h(items)
    if sessions:
        return sessions[0]
    starts = [24.0 * item.start_day for item in items if isinstance(item, OralAntidepressant)]
    return min(starts) if starts else 0.0
