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

from ketasim.regimens._dose import MIN_AMOUNT_MG, MIN_AMOUNT_MG_PER_KG, Dose
from ketasim.schema import Count, Flag, Real, StrictModel
from ketasim.vocabulary import AugmentationDrugName, DrugName, PlaceboName, RouteName, ScaleName, vocabulary

MAX_DAY = 730.0
DOSE_FIELD_NAMES = {"amount_mg": "dose_mg", "amount_mg_per_kg": "dose_mg_per_kg", "duration_h": "duration_min"}
"""How sessions (and ``ketasim pk``) call the dose-record fields a ``DoseError`` names."""
DEFAULT_INFUSION_MIN = 40.0
"""IV infusion duration when none is given: 0.5 mg/kg over 40 min (Berman 2000; the clinics' standard)."""
Day = Annotated[Real, Field(ge=0, le=MAX_DAY)]
MAX_ESCALATION_STEPS = 8


class StopWhen(StrictModel):
    """End the course once the patient, rated before a session, has responded or remitted
    (the scale's own definitions, or a trial's remission cut-off ``score_at_most``)."""

    response: Flag = False
    remission: Flag = False
    scale: ScaleName | None = None
    """The scale rated before each session (default: the trial's scale, or a scenario's first)."""
    score_at_most: Real | None = Field(default=None, ge=0)
    """A trial's own remission cut-off (a score at or below it; default: the scale's)."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.response == self.remission:
            raise ValueError("stop_when: give exactly one of response: true or remission: true")
        if self.score_at_most is not None and not self.remission:
            raise ValueError("score_at_most: applies to remission only")
        if self.score_at_most is not None and self.scale is not None:
            s = vocabulary().scales[self.scale]
            if not s.contains(self.score_at_most):
                raise ValueError(
                    f"score_at_most: {self.score_at_most:g} is outside {self.scale}'s range {s.min:g}-{s.max:g}"
                )
        return self


class _NewDose(StrictModel):
    """A dose a rule moves the course to, in the course's unit (``to_mg`` or ``to_mg_per_kg``)."""

    to_mg: Real | None = Field(default=None, ge=MIN_AMOUNT_MG, le=1000)
    to_mg_per_kg: Real | None = Field(default=None, ge=MIN_AMOUNT_MG_PER_KG, le=20)

    @model_validator(mode="after")
    def _one_unit(self) -> Self:
        if (self.to_mg is None) == (self.to_mg_per_kg is None):
            raise ValueError("give exactly one of to_mg or to_mg_per_kg")
        return self

    @property
    def target(self) -> float:
        """The new dose (mg or mg/kg)."""
        value = self.to_mg if self.to_mg is not None else self.to_mg_per_kg
        assert value is not None
        return value

    @property
    def unit_field(self) -> str:
        """``to_mg`` or ``to_mg_per_kg``: the field given."""
        return "to_mg" if self.to_mg is not None else "to_mg_per_kg"


class Escalation(_NewDose):
    """From session ``after_session`` + 1 on, a higher dose — unless the patient, rated
    before that session, already responds (``unless_response``).  A course may list several
    steps (0.5 → 0.75 → 1.0 mg/kg), each later and higher than the one before."""

    after_session: Count = Field(default=1, ge=1, le=500)
    unless_response: Flag = True


class Reduction(_NewDose):
    """After a session whose peak dissociation (CADSS) exceeded ``cadss_above``, the later
    sessions at a lower dose (and no further escalation)."""

    cadss_above: Real = Field(gt=0, le=92)


class KetamineSessions(StrictModel):
    """Ketamine or esketamine sessions: one dose per listed day, at ``hour_of_day``; optionally
    a course that follows the patient (``stop_when``, ``escalate``, ``reduce_for``,
    ``max_sessions``), decided before each session as a rater sees the patient."""

    kind: Literal["ketamine"] = "ketamine"
    drug: DrugName = "racemic_ketamine"
    route: RouteName = "iv"
    dose_mg: Real | None = Field(default=None, ge=MIN_AMOUNT_MG, le=1000)
    dose_mg_per_kg: Real | None = Field(default=None, ge=MIN_AMOUNT_MG_PER_KG, le=20)
    duration_min: Real | None = Field(default=None, gt=0, le=24 * 60)
    days: tuple[Day, ...] = Field(min_length=1, max_length=500)
    hour_of_day: Real = Field(default=9.0, ge=0, lt=24)
    stop_when: StopWhen | None = None
    escalate: Escalation | tuple[Escalation, ...] | None = None
    reduce_for: Reduction | None = None
    max_sessions: Count | None = Field(default=None, ge=1, le=500)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.dose_mg is None) == (self.dose_mg_per_kg is None):
            raise ValueError("give exactly one of dose_mg or dose_mg_per_kg")
        if self.duration_min is not None and not self.is_infusion:
            raise ValueError(f"duration_min: applies to infusion routes only, not {self.route!r}")
        _check_days(self.days)
        per_kg = self.dose_mg_per_kg is not None
        steps = self.escalation_steps
        named = [(step, "escalate" if len(steps) == 1 else f"escalate[{j}]") for j, step in enumerate(steps)]
        for rule, name in (*named, (self.reduce_for, "reduce_for")):
            if rule is not None and (rule.to_mg_per_kg is not None) != per_kg:
                unit = "to_mg_per_kg" if per_kg else "to_mg"
                raise ValueError(f"{name}: give {unit}, in the unit of the course's dose")
        if len(steps) > MAX_ESCALATION_STEPS:
            raise ValueError(f"escalate: {len(steps)} steps; at most {MAX_ESCALATION_STEPS}")
        for j, (step, name) in enumerate(named):
            if step.after_session >= len(self.days):
                raise ValueError(
                    f"{name}.after_session: {step.after_session} leaves no later session "
                    f"(the course has {len(self.days)})"
                )
            if j and (step.after_session <= steps[j - 1].after_session or step.target <= steps[j - 1].target):
                raise ValueError(f"{name}: each step comes after the one before and to a higher dose")
        return self

    @property
    def escalation_steps(self) -> tuple[Escalation, ...]:
        """The escalation steps, in order (none, one or several)."""
        if self.escalate is None:
            return ()
        return self.escalate if isinstance(self.escalate, tuple) else (self.escalate,)

    @property
    def is_adaptive(self) -> bool:
        """True when the course follows the patient (a rule decides each session)."""
        return any(r is not None for r in (self.stop_when, self.escalate, self.reduce_for, self.max_sessions))

    @property
    def dose_value(self) -> float:
        """The nominal dose, in the course's unit (mg or mg/kg)."""
        value = self.dose_mg if self.dose_mg is not None else self.dose_mg_per_kg
        assert value is not None
        return value

    def at_dose(self, value: float) -> KetamineSessions:
        """The same sessions at another dose (same unit), without the rules."""
        unit = "dose_mg" if self.dose_mg is not None else "dose_mg_per_kg"
        return self.model_copy(
            update={unit: value, "stop_when": None, "escalate": None, "reduce_for": None, "max_sessions": None}
        )

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


class EctCourse(StrictModel):
    """An acute course of electroconvulsive therapy (a comparator, modelled empirically:
    ``data/pd/comparators.yaml``): ``sessions_per_week`` from ``start_day``, at most
    ``max_sessions``."""

    kind: Literal["ect"] = "ect"
    sessions_per_week: Count = Field(default=3, ge=1, le=5)
    max_sessions: Count = Field(default=12, ge=1, le=40)
    start_day: Day = 0.0
    hour_of_day: Real = Field(default=9.0, ge=0, lt=24)

    @property
    def days(self) -> tuple[float, ...]:
        """Session days: spread through each week (3 a week: days 0, 2, 4, 7, 9, 11, …)."""
        offsets = {1: (0,), 2: (0, 3), 3: (0, 2, 4), 4: (0, 1, 3, 4), 5: (0, 1, 2, 3, 4)}[self.sessions_per_week]
        days = [self.start_day + 7 * week + o for week in range(self.max_sessions) for o in offsets]
        return tuple(days[: self.max_sessions])


class AntipsychoticAugmentation(StrictModel):
    """An antipsychotic added to the patient's SSRI/SNRI from ``start_day`` (a comparator,
    modelled empirically)."""

    kind: Literal["antipsychotic_augmentation"] = "antipsychotic_augmentation"
    drug: AugmentationDrugName = "quetiapine_xr"
    start_day: Day = 0.0


class AntidepressantSwitch(StrictModel):
    """A switch to another antidepressant from ``start_day`` (a comparator, modelled
    empirically from STAR*D level 2)."""

    kind: Literal["antidepressant_switch"] = "antidepressant_switch"
    start_day: Day = 0.0


Comparator = EctCourse | AntipsychoticAugmentation | AntidepressantSwitch
"""Treatments ketasim models empirically, not through the ketamine cascade."""

TreatmentItem = Annotated[
    KetamineSessions
    | PlaceboSessions
    | OralAntidepressant
    | EctCourse
    | AntipsychoticAugmentation
    | AntidepressantSwitch,
    Field(discriminator="kind"),
]


def session_times_h(items: Sequence[TreatmentItem]) -> list[float]:
    """Times (h) of every clinic session (ketamine, placebo or ECT), sorted."""
    times: set[float] = set()
    for item in items:
        if isinstance(item, KetamineSessions | PlaceboSessions | EctCourse):
            times.update(24.0 * d + item.hour_of_day for d in item.days)
    return sorted(times)


def course_start_h(items: Sequence[TreatmentItem]) -> float:
    """Time zero of a course (h): the first clinic session, else the first start of an oral
    antidepressant or a comparator."""
    sessions = session_times_h(items)
    if sessions:
        return sessions[0]
    starts = [
        24.0 * item.start_day
        for item in items
        if isinstance(item, OralAntidepressant | AntipsychoticAugmentation | AntidepressantSwitch)
    ]
    return min(starts) if starts else 0.0


def treatment_end_day(item: TreatmentItem) -> float:
    """The last day an item gives or starts something."""
    if isinstance(item, OralAntidepressant | AntipsychoticAugmentation | AntidepressantSwitch):
        return item.start_day
    return max(item.days)


def shifted(item: TreatmentItem, days: float) -> TreatmentItem:
    """The same item ``days`` later (a crossover's second period)."""
    if isinstance(item, KetamineSessions | PlaceboSessions):
        return item.model_copy(update={"days": tuple(d + days for d in item.days)})
    return item.model_copy(update={"start_day": item.start_day + days})
