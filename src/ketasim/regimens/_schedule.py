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

from pydantic import Field, model_validator

from ketasim.regimens._dose import Dose
from ketasim.schema import Flag, Real, StrictModel
from ketasim.vocabulary import DrugName, PlaceboName, RouteName, vocabulary

MAX_DAY = 730.0
DOSE_FIELD_NAMES = {"amount_mg": "dose_mg", "amount_mg_per_kg": "dose_mg_per_kg", "duration_h": "duration_min"}
"""How sessions (and ``ketasim pk``) call the dose-record fields a ``DoseError`` names."""
DEFAULT_INFUSION_MIN = 40.0
"""IV infusion duration when none is given: 0.5 mg/kg over 40 min (Berman 2000; the clinics' standard)."""
Day = Annotated[Real, Field(ge=0, le=MAX_DAY)]


class KetamineSessions(StrictModel):
    """Ketamine or esketamine sessions: one dose per listed day, at ``hour_of_day``."""

    kind: Literal["ketamine"] = "ketamine"
    drug: DrugName = "racemic_ketamine"
    route: RouteName = "iv"
    dose_mg: Real | None = Field(default=None, gt=0, le=1000)
    dose_mg_per_kg: Real | None = Field(default=None, gt=0, le=20)
    duration_min: Real | None = Field(default=None, gt=0, le=24 * 60)
    days: tuple[Day, ...] = Field(min_length=1, max_length=500)
    hour_of_day: Real = Field(default=9.0, ge=0, lt=24)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.dose_mg is None) == (self.dose_mg_per_kg is None):
            raise ValueError("give exactly one of dose_mg or dose_mg_per_kg")
        if self.duration_min is not None and not self.is_infusion:
            raise ValueError(f"duration_min: applies to infusion routes only, not {self.route!r}")
        _check_days(self.days)
        return self

    @property
    def is_infusion(self) -> bool:
        """True for a route given over a duration (IV)."""
        return vocabulary().routes[self.route].infusion

    def doses(self) -> list[Dose]:
        """Dose records (IV infusions default to 40 min, the clinics' standard)."""
        duration_min = self.duration_min
        if self.is_infusion and duration_min is None:
            duration_min = DEFAULT_INFUSION_MIN
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


class PlaceboSessions(StrictModel):
    """Placebo sessions: ``saline`` (inert, incl. nasal placebo) or ``midazolam`` (active)."""

    kind: Literal["placebo"] = "placebo"
    placebo: PlaceboName = "saline"
    days: tuple[Day, ...] = Field(min_length=1, max_length=500)
    hour_of_day: Real = Field(default=9.0, ge=0, lt=24)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _check_days(self.days)
        return self


def _check_days(days: tuple[float, ...]) -> None:
    if list(days) != sorted(set(days)):
        raise ValueError(f"days: {', '.join(f'{d:g}' for d in days)} must be increasing, without repeats")


class OralAntidepressant(StrictModel):
    """A monoaminergic oral antidepressant (SSRI/SNRI) taken daily from ``start_day``.

    ``newly_started`` is True when the drug starts with the course (its weeks-long onset
    then plays out); False for an antidepressant the patient was already taking.
    """

    kind: Literal["oral_antidepressant"] = "oral_antidepressant"
    start_day: Day = 0.0
    newly_started: Flag = True


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
