"""Virtual-trial designs as YAML or JSON files (docs/trials.md), validated before anything runs.

A design names a condition and a rating scale, a population, two or more arms (each a
list of regimens), parallel or crossover allocation, a sample size, dropout, the
assessment days and the endpoints.  Every problem is reported with its field path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import Field, ValidationError, model_validator

from ketasim.covariates import AGE_RANGE_YEARS, Covariates
from ketasim.errors import DoseError, TrialError
from ketasim.io.files import read_mapping
from ketasim.model import check_treatment
from ketasim.population import POPULATION_WEIGHT_RANGE_KG, Demographics, Setting
from ketasim.regimens import EctCourse, KetamineSessions, PlaceboSessions, TreatmentItem, treatment_end_day
from ketasim.schema import Count, Flag, Printable, Real, StrictModel
from ketasim.vocabulary import AdverseEventName, ConditionName, ScaleName
from ketasim.vocabulary import condition as condition_entry
from ketasim.vocabulary import scale as scale_entry

MAX_PATIENTS_PER_ARM = 10_000_000
MAX_REPLICATES = 10_000
ArmName = Annotated[Printable, Field(min_length=1, max_length=60)]
"""An arm's name: printable, 1–60 characters (it labels tables, files and figures)."""
Day = Annotated[Real, Field(ge=0, le=3650)]


Age = Annotated[Real, Field(ge=AGE_RANGE_YEARS[0], le=AGE_RANGE_YEARS[1])]


class PopulationSpec(StrictModel):
    """Who is enrolled: baseline severity on the design's scale, age, sex, setting,
    suicidal ideation at entry and the inclusion criteria."""

    baseline_mean: Real | None = Field(default=None, ge=0)
    age_mean: Age = 45.0
    age_sd: Real = Field(default=12.0, gt=0, le=40)
    age_min: Age = 18.0
    age_max: Age = 75.0
    female_fraction: Real = Field(default=0.584, ge=0, le=1)
    setting: Setting = "outpatient"
    suicidal_ideation_at_entry: Flag | Annotated[Real, Field(ge=0, le=1)] = False
    failed_trials_min: Count | None = Field(default=None, ge=0, le=20)
    failed_trials_max: Count | None = Field(default=None, ge=0, le=20)
    """Failed adequate antidepressant trials in the episode (inclusion criterion), drawn
    uniformly in [min, max]; neither given: the condition's range (vocabulary.yaml)."""
    open_label: Flag = False
    """Patients know they receive active treatment (an open-label study or series)."""
    lead_in: Flag = False
    """Only the non-responders of an open-label prospective treatment phase are randomised
    (TRANSFORM-1/2/3, TRD2005; docs/model.md §6)."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.failed_trials_min is None) != (self.failed_trials_max is None):
            raise ValueError("give both failed_trials_min and failed_trials_max, or neither")
        if (
            self.failed_trials_min is not None
            and self.failed_trials_max is not None
            and self.failed_trials_max < self.failed_trials_min
        ):
            raise ValueError(
                f"failed_trials_max: {self.failed_trials_max} is below failed_trials_min {self.failed_trials_min}"
            )
        if self.age_max <= self.age_min:
            raise ValueError(f"age_max: {self.age_max:g} is not above age_min {self.age_min:g}")
        if not self.age_min <= self.age_mean <= self.age_max:
            raise ValueError(
                f"age_mean: {self.age_mean:g} is outside age_min–age_max {self.age_min:g}–{self.age_max:g}"
            )
        return self

    def demographics(self) -> Demographics:
        """The population's draw."""
        si = self.suicidal_ideation_at_entry
        return Demographics(
            age_mean=self.age_mean,
            age_sd=self.age_sd,
            age_min=self.age_min,
            age_max=self.age_max,
            female_fraction=self.female_fraction,
            failed_trials=(
                (self.failed_trials_min, self.failed_trials_max)
                if self.failed_trials_min is not None and self.failed_trials_max is not None
                else None
            ),
            setting=self.setting,
            open_label=self.open_label,
            lead_in=self.lead_in,
            suicidal_ideation_fraction=float(si) if not isinstance(si, bool) else (1.0 if si else 0.0),
        )

    def not_yet_modelled(self) -> list[str]:
        """Descriptors the design sets that the model does not use yet (docs/trials.md)."""
        unused = []
        if self.setting == "inpatient":
            unused.append("population.setting")
        if self.suicidal_ideation_at_entry not in (False, 0, 0.0):
            unused.append("population.suicidal_ideation_at_entry")
        return unused


class Arm(StrictModel):
    """One arm: a list of regimens given together."""

    treatment: tuple[TreatmentItem, ...] = Field(min_length=1, max_length=50)
    label: str | None = Field(default=None, max_length=200)


class _Endpoint(StrictModel):
    name: str | None = Field(default=None, max_length=200)


class MeanChange(_Endpoint):
    """Mean change from baseline (SD) at ``day``; lower is better."""

    type: Literal["mean_change"]
    day: Day


class Proportion(_Endpoint):
    """Fraction responding or remitting (the scale's definitions) at ``day``; a trial's own
    remission threshold as ``score_at_most`` (TRANSFORM-2: MADRS ≤ 12)."""

    type: Literal["response", "remission"]
    day: Day
    score_at_most: Real | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.type == "response" and self.score_at_most is not None:
            raise ValueError("score_at_most: applies to remission only")
        return self


class TimeToResponse(_Endpoint):
    """Kaplan–Meier median days to first response (censored at the last assessment)."""

    type: Literal["time_to_response"]


class SustainedResponse(_Endpoint):
    """Fraction responding at every assessment from ``from_day`` to ``to_day``."""

    type: Literal["sustained_response"]
    from_day: Day
    to_day: Day


class Relapse(_Endpoint):
    """Kaplan–Meier median days to relapse: among responders at ``responders_at_day`` (loss
    of response), or, in a randomised-withdrawal design, the randomised cohort (the trial's
    relapse rule)."""

    type: Literal["relapse"]
    responders_at_day: Day | None = None


class AdverseEvent(_Endpoint):
    """Fraction of patients with the event at least once during the course."""

    type: Literal["adverse_event"]
    event: AdverseEventName


class EffectSize(_Endpoint):
    """Standardised difference in change from baseline at ``day``: Hedges' g (with its CI)
    and Cohen's d, arm vs control; per arm, the standardised mean change."""

    type: Literal["effect_size"]
    day: Day


class HazardRatio(_Endpoint):
    """Hazard ratio of relapse, arm vs control (Cox proportional hazards, statsmodels
    PHReg), among the randomised-withdrawal cohort (``withdrawal``) or the responders at
    ``responders_at_day``; per arm, the Kaplan–Meier median time to relapse."""

    type: Literal["hazard_ratio"]
    responders_at_day: Day | None = None


class RelapseFraction(_Endpoint):
    """Fraction of the randomised-withdrawal cohort who relapsed (the trial's definition)."""

    type: Literal["relapse_fraction"]


VitalMeasure = Literal[
    "sbp_peak_rise_mmhg", "dbp_peak_rise_mmhg", "sbp_at_least_180", "dbp_at_least_110", "rise_at_least_40_25",
    "sbp_largest_session_mean_rise_mmhg", "dbp_largest_session_mean_rise_mmhg",
    "sbp_average_session_mean_rise_mmhg", "dbp_average_session_mean_rise_mmhg",
]  # fmt: skip


class VitalSign(_Endpoint):
    """Blood pressure over the sessions attended: mean of each patient's largest rise
    (mmHg); the fraction with SBP ≥ 180, DBP ≥ 110 or a rise of ≥ 40 systolic or ≥ 25
    diastolic at least once; or, per session, the mean over the patients attending of their
    rise, and the largest (Doherty 2020) or the average (Takahashi 2021) of those means."""

    type: Literal["vital_sign"]
    measure: VitalMeasure


class AeDiscontinuation(_Endpoint):
    """Fraction who left the trial because of adverse events (a model output)."""

    type: Literal["ae_discontinuation"]


class SessionsTo(_Endpoint):
    """Kaplan–Meier median number of sessions to first response or remission (censored at
    the sessions had by the last assessment attended)."""

    type: Literal["sessions_to_response", "sessions_to_remission"]


class ResponseAnyTime(_Endpoint):
    """Fraction responding (or remitting) at any assessment attended up to ``until_day`` —
    a course that stops at remission is judged so (KetECT)."""

    type: Literal["response_any_time", "remission_any_time"]
    until_day: Day
    score_at_most: Real | None = Field(default=None, ge=0)
    """remission_any_time: the trial's remission threshold (default: the scale's)."""


MAX_MMRM_PATIENTS = 5000


class MmrmDifference(_Endpoint):
    """Least-squares mean difference in change from baseline at ``day`` from a mixed model
    for repeated measures on the observed scores (statsmodels MixedLM: arm × day, baseline
    as covariate, a random intercept per patient)."""

    type: Literal["mmrm_difference"]
    day: Day


Endpoint = Annotated[
    MeanChange
    | Proportion
    | TimeToResponse
    | SustainedResponse
    | Relapse
    | AdverseEvent
    | EffectSize
    | HazardRatio
    | RelapseFraction
    | VitalSign
    | AeDiscontinuation
    | SessionsTo
    | ResponseAnyTime
    | MmrmDifference,
    Field(discriminator="type"),
]
COMPARISON_ONLY = (EffectSize, MmrmDifference)


class Selection(StrictModel):
    """Who enters the randomised phase: ``responders`` (a fall of at least ``drop_at_least``
    of baseline) or ``stable_remitters`` (a score of at most ``score_at_most``), on at least
    ``visits`` of the last ``of_last`` assessments up to the randomisation day (defaults: the
    scale's response and remission rules, at the randomisation visit)."""

    criterion: Literal["responders", "stable_remitters"]
    drop_at_least: Real | None = Field(default=None, gt=0, lt=1)
    score_at_most: Real | None = Field(default=None, ge=0)
    visits: Count = Field(default=1, ge=1, le=50)
    of_last: Count = Field(default=1, ge=1, le=50)
    exclude_remitters: Flag = False
    """Responders only: leave out those meeting the scale's remission rule at randomisation."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.visits > self.of_last:
            raise ValueError(f"visits: {self.visits} is more than of_last {self.of_last}")
        if self.criterion == "responders" and self.score_at_most is not None:
            raise ValueError("score_at_most: applies to stable_remitters; responders use drop_at_least")
        if self.criterion == "stable_remitters" and self.drop_at_least is not None:
            raise ValueError("drop_at_least: applies to responders; stable_remitters use score_at_most")
        return self


class RelapseRule(StrictModel):
    """A relapse as the trial defines it: a score of at least ``score_at_least`` on
    ``consecutive_visits`` consecutive assessments, each ``min_gap_days``–``max_gap_days``
    after the one before (the relapse is dated at the first); default: loss of response."""

    score_at_least: Real = Field(ge=0)
    consecutive_visits: Count = Field(default=1, ge=1, le=10)
    min_gap_days: Real = Field(default=0.0, ge=0, le=365)
    max_gap_days: Real = Field(default=365.0, gt=0, le=365)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.max_gap_days < self.min_gap_days:
            raise ValueError(f"max_gap_days: {self.max_gap_days:g} is below min_gap_days {self.min_gap_days:g}")
        return self


class Withdrawal(StrictModel):
    """A randomised-withdrawal design: every arm runs the same open-label course until
    ``at_day``; those meeting ``select`` are randomised, and each arm continues its own
    course (continue, or switch to placebo); relapse as the trial defines it."""

    at_day: Day
    select: Selection
    relapse: RelapseRule | None = None


class CrossoverTiming(StrictModel):
    """A two-period crossover: period 2 starts ``period_days`` + ``washout_days`` after
    period 1; half the patients take the arms in the listed order, half reversed.  Carry-over
    is what the model predicts (nothing is reset)."""

    period_days: Day = Field(gt=0)
    washout_days: Day = 0.0


def endpoint_name(e: Endpoint) -> str:
    """A short, stable name such as ``response_day_15`` (or the design's own ``name``)."""
    if e.name:
        return e.name
    if isinstance(e, MeanChange | Proportion):
        return f"{e.type}_day_{e.day:g}"
    if isinstance(e, SustainedResponse):
        return f"sustained_response_day_{e.from_day:g}_to_{e.to_day:g}"
    if isinstance(e, Relapse):
        return f"relapse_among_responders_day_{e.responders_at_day:g}" if e.responders_at_day is not None else "relapse"
    if isinstance(e, AdverseEvent):
        return f"adverse_event_{e.event}"
    if isinstance(e, EffectSize | MmrmDifference):
        return f"{e.type}_day_{e.day:g}"
    if isinstance(e, ResponseAnyTime):
        return f"{e.type}_to_day_{e.until_day:g}"
    if isinstance(e, VitalSign):
        return e.measure
    return e.type


BP_READINGS_MIN: tuple[float, ...] = (0.0, 40.0, 60.0, 90.0)
"""Default cuff readings at a session (min): pre-dose, 40 min, 1 h and 1.5 h — **assumed**
from the esketamine label's check at about 40 min and its 1.5-h observation, as the label's
BP targets of the validation read them (``data/targets.yaml``, bp1–bp4)."""


class TrialDesign(StrictModel):
    """A virtual clinical trial."""

    name: str = Field(max_length=200)
    source: str | None = Field(default=None, max_length=2000)
    condition: ConditionName
    scale: ScaleName
    population: PopulationSpec = PopulationSpec()
    allocation: Literal["parallel", "crossover"] = "parallel"
    n_per_arm: Count = Field(gt=0, le=MAX_PATIENTS_PER_ARM)
    dropout_fraction: Real = Field(default=0.0, ge=0, lt=1)
    dropout_model: Literal["modelled", "fixed"] = "modelled"
    withdrawal: Withdrawal | None = None
    crossover: CrossoverTiming | None = None
    arms: dict[ArmName, Arm] = Field(min_length=1, max_length=20)
    control: str | None = None
    assessment_days: tuple[Day, ...] = Field(min_length=1, max_length=200)
    endpoints: tuple[Endpoint, ...] = Field(min_length=1, max_length=100)
    replicates: Count = Field(default=1, ge=1, le=MAX_REPLICATES)
    alpha: Real = Field(default=0.05, gt=0, lt=1)
    seed: Count = Field(default=1, ge=0, le=2**63 - 1)
    bp_readings_min: tuple[Real, ...] = Field(default=BP_READINGS_MIN, min_length=2, max_length=50)
    """When the cuff reads blood pressure at each session (minutes from its start; the first,
    0, is the pre-dose reading a rise is counted from)."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        allowed = condition_entry(self.condition).scales
        if self.scale not in allowed:
            raise ValueError(f"scale: {self.scale!r} is not a scale of {self.condition}; allowed: {', '.join(allowed)}")
        if self.control is not None and self.control not in self.arms:
            raise ValueError(f"control: {self.control!r} is not an arm; arms: {', '.join(self.arms)}")
        days = list(self.assessment_days)
        if days != sorted(set(days)) or days[0] < 0:
            raise ValueError("assessment_days: must be increasing, without repeats, from day 0 on")
        s = scale_entry(self.scale)
        readings = list(self.bp_readings_min)
        if readings[0] != 0 or readings != sorted(set(readings)) or readings[-1] > 24 * 60:
            raise ValueError(
                f"bp_readings_min: {readings} is not allowed: minutes from a session's start, increasing, "
                "the first 0 (the pre-dose reading), the last at most 1440"
            )
        if self.population.baseline_mean is not None and not s.contains(self.population.baseline_mean):
            raise ValueError(
                f"population.baseline_mean: {self.population.baseline_mean:g} is outside {self.scale}'s range "
                f"{s.min:g}–{s.max:g}"
            )
        names = [endpoint_name(e) for e in self.endpoints]
        if len(set(names)) != len(names):
            raise ValueError("endpoints: two endpoints have the same name; give one a `name`")
        last = days[-1]
        for i, e in enumerate(self.endpoints):
            for fld in ("day", "from_day", "to_day", "responders_at_day", "until_day"):
                value = getattr(e, fld, None)
                if value is not None and value not in days:
                    raise ValueError(f"endpoints[{i}].{fld}: day {value:g} is not an assessment day (assessment_days)")
            if isinstance(e, SustainedResponse) and e.to_day < e.from_day:
                raise ValueError(f"endpoints[{i}].to_day: {e.to_day:g} is before from_day {e.from_day:g}")
        self._check_phases(days)
        for arm_name, arm in self.arms.items():
            for j, item in enumerate(arm.treatment):
                rule = getattr(item, "stop_when", None)
                if rule is not None and rule.scale is not None and rule.scale != self.scale:
                    raise ValueError(
                        f"arms.{arm_name}.treatment[{j}].stop_when.scale: {rule.scale!r} is not rated in this trial "
                        f"(scale: {self.scale})"
                    )
                end = treatment_end_day(item)
                if end > last + 1e-9 + 365:
                    raise ValueError(f"arms.{arm_name}.treatment[{j}]: runs past the last assessment by over a year")
        return self

    def _check_phases(self, days: list[float]) -> None:
        """Withdrawal, crossover timing and the endpoints that need them."""
        w = self.withdrawal
        if w is not None:
            if w.at_day not in days:
                raise ValueError(f"withdrawal.at_day: day {w.at_day:g} is not an assessment day (assessment_days)")
            if days[-1] <= w.at_day:
                raise ValueError(f"withdrawal.at_day: no assessment after day {w.at_day:g} to follow relapse")
            if w.select.of_last > days.index(w.at_day):
                raise ValueError(
                    f"withdrawal.select.of_last: {w.select.of_last} assessments before the randomisation day are "
                    f"needed; there are {days.index(w.at_day)} after baseline"
                )
            if self.allocation == "crossover":
                raise ValueError("withdrawal: a randomised-withdrawal design is parallel, not crossover")
        c = self.crossover
        if c is not None:
            if self.allocation != "crossover":
                raise ValueError("crossover: period_days and washout_days need allocation: crossover")
            if len(self.arms) != 2:
                raise ValueError(f"crossover: a two-period crossover has 2 arms, not {len(self.arms)}")
            if days[-1] > c.period_days:
                raise ValueError(
                    f"assessment_days: day {days[-1]:g} is after the period ({c.period_days:g} days); days count "
                    "from each period's first session"
                )
        for i, e in enumerate(self.endpoints):
            needs_cohort = isinstance(e, RelapseFraction) or (
                isinstance(e, HazardRatio | Relapse) and e.responders_at_day is None
            )
            if needs_cohort and w is None:
                extra = "" if isinstance(e, RelapseFraction) else " or give responders_at_day"
                raise ValueError(f"endpoints[{i}]: {e.type} needs a randomised-withdrawal design (withdrawal){extra}")
            if isinstance(e, HazardRatio | MmrmDifference | EffectSize) and self.control_arm is None:
                raise ValueError(f"endpoints[{i}]: {e.type} compares arms; name the control arm (control)")
            if isinstance(e, MmrmDifference) and self.n_per_arm * len(self.arms) > MAX_MMRM_PATIENTS:
                raise ValueError(
                    f"endpoints[{i}]: mmrm_difference is fitted on at most {MAX_MMRM_PATIENTS:,} patients; this design "
                    f"has {self.n_per_arm * len(self.arms):,} (lower n_per_arm)"
                )
            if isinstance(e, SessionsTo) and not any(_has_sessions(a) for a in self.arms.values()):
                raise ValueError(f"endpoints[{i}]: {e.type} counts sessions; no arm has clinic sessions")

    def not_yet_modelled(self) -> list[str]:
        """What the design sets that the model does not use yet (reported with the results)."""
        unused = self.population.not_yet_modelled()
        has_ect = any(isinstance(i, EctCourse) for a in self.arms.values() for i in a.treatment)
        if has_ect and any(isinstance(e, VitalSign) for e in self.endpoints):
            unused.append("vital signs during ECT sessions (not modelled: 0 rise)")
        if has_ect and any(isinstance(e, AdverseEvent | AeDiscontinuation) for e in self.endpoints):
            unused.append("adverse events of ECT (only its discontinuation rate is modelled)")
        return unused

    @property
    def follow_up_days(self) -> float:
        """Last assessment day (days after the first session)."""
        return float(self.assessment_days[-1])

    @property
    def baseline_mean(self) -> float:
        """The design's baseline mean, else the condition's typical baseline on the scale."""
        if self.population.baseline_mean is not None:
            return self.population.baseline_mean
        return condition_entry(self.condition).typical_baseline_on(self.scale)

    @property
    def control_arm(self) -> str | None:
        """The comparator: ``control`` if given, else the first arm with no ketamine, else None."""
        if self.control is not None:
            return self.control
        for name, arm in self.arms.items():
            if not any(isinstance(i, KetamineSessions) for i in arm.treatment):
                return name
        return None


def _has_sessions(arm: Arm) -> bool:
    return any(isinstance(i, KetamineSessions | PlaceboSessions | EctCourse) for i in arm.treatment)


def check_doses(design: TrialDesign) -> None:
    """Refuse any dose outside clinical bounds for the population's weight range, naming the
    arm and regimen (``arms.ketamine.treatment[0].dose_mg``)."""
    lo, hi = POPULATION_WEIGHT_RANGE_KG
    weights = Covariates(np.array([lo, hi]), np.array([40.0, 40.0]), np.array([False, False]))
    for arm_name, arm in design.arms.items():
        try:
            check_treatment(arm.treatment, weights, prefix=f"arms.{arm_name}.treatment")
        except DoseError as err:
            raise TrialError(err.problems) from None


def parse_design(data: Any) -> TrialDesign:
    """Validate a design given as a mapping (YAML/JSON content or an HTTP body)."""
    if not isinstance(data, dict):
        raise TrialError.one("(file)", "a trial design is a mapping of keys to values")
    try:
        design = TrialDesign.model_validate(data)
    except ValidationError as err:
        raise TrialError.from_validation(err, data) from None
    check_doses(design)
    return design


def load_design(path: str | Path) -> TrialDesign:
    """Read and validate a trial design file (.yaml, .yml or .json)."""
    return parse_design(read_mapping(path, TrialError, "a trial design"))


__all__ = [
    "AdverseEvent",
    "AeDiscontinuation",
    "Arm",
    "CrossoverTiming",
    "EffectSize",
    "Endpoint",
    "HazardRatio",
    "MeanChange",
    "MmrmDifference",
    "PlaceboSessions",
    "Proportion",
    "Relapse",
    "RelapseFraction",
    "RelapseRule",
    "ResponseAnyTime",
    "Selection",
    "SessionsTo",
    "SustainedResponse",
    "TimeToResponse",
    "TrialDesign",
    "TrialError",
    "VitalSign",
    "Withdrawal",
    "endpoint_name",
    "load_design",
    "parse_design",
]
