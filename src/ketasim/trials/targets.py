"""Calibration and validation targets (``data/targets.yaml``): published results as
simulatable designs, each with its observed value, tolerance and source."""

from __future__ import annotations

from functools import cache
from typing import Literal, Self

from pydantic import Field, model_validator

from ketasim.io.data import read_packaged_yaml
from ketasim.model.steady import MAX_PLASMA_NG_ML
from ketasim.regimens import TreatmentItem
from ketasim.schema import Count, Flag, Real, StrictModel
from ketasim.vocabulary import DrugName, names, scale

Endpoint = Literal[
    "mean_change",
    "mean_score",
    "response_rate",
    "remission_rate",
    "sustained_response_rate",
    "odds_ratio",
    "effect_size",
    "difference",
    "incidence",
    "peak_time_h",
    "resolution_time_h",
    "fraction_of_effect",
    "median_days_to_loss_of_response",
    "median_days_to_improvement",
    "not_significant",
]

_RATE_MEASURES: dict[str, str] = {
    "response_rate": "response",
    "sustained_response_rate": "response",
    "remission_rate": "remission",
}
"""The measure a rate endpoint counts by its name."""


SIDE_EFFECT_SERIES = ("SBP", "DBP", "HR", "CADSS")
"""Scales of targets read from a side-effect time course rather than a symptom score."""
STEADY_RISE_SCALES = ("SBP", "DBP", "MAP", "HR")
"""Haemodynamic rises a concentration-effect target (``steady_state``) reads; MAP is
(SBP + 2·DBP)/3."""
INCIDENCE_QUANTITIES = ("cadss_above_4", "bp_rise_40_25", "sbp_rise_40", "dbp_rise_25")
"""Incidences of measured effects (besides the reported adverse events of the vocabulary)."""
BP_INCIDENCES = ("bp_rise_40_25", "sbp_rise_40", "dbp_rise_25")
"""Incidences read from recorded BP: at ``assessed_at_h`` after each session's start, against
that session's pre-dose reading (the first)."""


class TargetArm(StrictModel):
    """One arm of a target's design."""

    label: str
    n: Count | None = Field(default=None, gt=0)
    treatment: tuple[TreatmentItem, ...]


class Context(StrictModel):
    """Who was enrolled and how the trial was framed (the placebo and antidepressant
    covariates of the model); defaults are an outpatient, double-blind trial."""

    setting: Literal["outpatient", "inpatient", "emergency"] = "outpatient"
    open_label: Flag = False
    """Patients knew they received active treatment (no blinding, or a single-arm series)."""
    lead_in: Flag = False
    """Only the non-responders of an open-label prospective treatment phase were randomised."""
    failed_trials: tuple[Count, Count] | None = Field(default=None)
    """Failed adequate antidepressant trials in the episode, drawn uniformly in [lo, hi]
    (default: the condition's, see ``vocabulary.yaml``)."""
    suicidal_ideation_fraction: Real = Field(default=0.0, ge=0.0, le=1.0)
    age_mean: Real | None = Field(default=None, ge=18, le=100)
    age_min: Real | None = Field(default=None, ge=18, le=100)
    """The youngest age enrolled (a trial of older adults), when above the default 18."""
    age_sd: Real | None = Field(default=None, gt=0, le=30)
    note: str | None = None

    @model_validator(mode="after")
    def _ages(self) -> Self:
        if self.age_min is not None and self.age_mean is not None and self.age_mean < self.age_min:
            raise ValueError(f"age_mean: {self.age_mean:g} is below age_min {self.age_min:g}")
        return self


class SteadyState(StrictModel):
    """A plasma concentration held steady (a target-controlled infusion), read where the
    effect site has come to equal it (see :func:`~ketasim.model.steady.steady_occupancy`)."""

    drug: DrugName
    plasma_ng_ml: Real = Field(gt=0.0, le=MAX_PLASMA_NG_ML)
    """The parent drug's measured concentration (ng/mL), taken as arterial."""
    note: str | None = None


class Target(StrictModel):
    """A published result the model is checked against."""

    id: str
    source: str
    study: str | None = None
    """The trial population the result comes from, when several sources report the same
    patients (a secondary or pooled analysis, a label table): cross-validation folds keep
    them together, so no fold trains on the patients it predicts.  Default: the source."""
    reliability: Literal["P", "S", "L"]
    family: str
    condition: str
    scale: str
    baseline: Real | None = None
    baseline_note: str | None = None
    context: Context = Context()
    endpoint: Endpoint
    measure: Literal["response", "remission"] = "response"
    """What a patient must reach: a response (scale-specific drop) or remission (below the
    scale's cut-off).  A rate endpoint names its own (``remission_rate`` → remission), and a
    ``measure`` that contradicts it is refused."""
    score_at_most: Real | None = Field(default=None, ge=0)
    """The trial's own remission cut-off (a score at or below it), when it differs from the
    scale's (the esketamine programme: MADRS ≤ 12); default: the scale's ``remission_max``."""
    score_at_most_note: str | None = None
    ratio: Literal["odds", "risk"] = "odds"
    quantity: str | None = None
    statistic: Literal[
        "at_time", "peak", "patient_peak", "patient_peak_sd", "largest_session_mean_peak", "average_session_mean_peak"
    ] = "at_time"
    """at_time: the mean at time_h; peak: the largest value of the mean course;
    patient_peak: the mean over patients of each patient's largest value; patient_peak_sd:
    the SD over patients of each patient's largest value; largest_session_mean_peak: over the
    arm's sessions, the largest of each session's mean over patients of the patient's largest
    rise at that session (Doherty 2020's "largest mean maximum increase" across dosing days);
    average_session_mean_peak: the average of those session means (Takahashi 2021's "average
    maximum increase" across all dosing days)."""
    session: Literal["first", "last"] = "first"
    time_from: Literal["dose_start", "infusion_end"] = "dose_start"
    assessed_at_h: tuple[Real, ...] | None = None
    """Times after the session start (h) of the assessments: response at any of them, or the
    BP readings (the first is the pre-dose one) that a BP peak or rise is read from."""
    assessed_note: str | None = None
    assessments_needed: Count = Field(default=1, ge=1, le=10)
    """How many of the assessments at ``assessed_at_h`` must meet the measure (Su et al. 2017:
    a response on at least two daily ratings between days 2 and 5); default: any one."""
    follow_up_every_days: Real = Field(default=1.0, gt=0.0, le=28.0)
    """Interval (days) between follow-up ratings after the course: a loss of response is
    only seen at a rating (median_days_to_loss_of_response)."""
    improvement_points: Real | None = Field(default=None, gt=0.0)
    """The drop from the entry rating (scale points) that counts as improvement
    (median_days_to_improvement: the first assessment at or past it)."""
    improvement_note: str | None = None
    loss_confirmed_by: Count = Field(default=1, ge=1, le=4)
    """Consecutive follow-up ratings without response that make a loss (relapse) of
    response; its day is the first of them."""
    difference: Literal["arm_minus_control", "control_minus_arm"] = "arm_minus_control"
    fraction: Literal["relative_drop", "late_share", "share_of_reference"] | None = None
    late_after_h: Real | None = None
    reference_time_h: Real | None = None
    description: str
    time_h: Real | None = None
    time_note: str | None = None
    arm: TargetArm
    control: TargetArm | None = None
    active_control_share: Real | None = Field(default=None, ge=0.0, le=1.0)
    """A meta-analysis pooling trials with inert and active placebos: the share of its control
    patients whose placebo was active (midazolam).  The predicted effect size or difference
    is the patient-weighted mean of the result against ``control`` (inert) and against the
    same control with midazolam (:func:`ketasim.trials.validation.pooled_controls`)."""
    active_control_note: str | None = None
    observed: Real
    sd: Real | None = None
    ci: tuple[Real, Real] | None = None
    tolerance: Real = Field(ge=0)
    tolerance_rule: str
    bound: Literal["upper", "lower"] | None = None
    """The source gives only a bound ('back to baseline within 1.5 h'): ``observed`` is the
    bound, and the target passes when the prediction is on its side or beyond it by at most
    ``tolerance``; the fit's residual is zero on its side (a hinge)."""
    addressable: Flag = True
    reason: str | None = None
    derives: str | None = None
    """The fixed value this result is the source of (e.g. ``adverse.ae_nausea_beta``): it
    is reported in sample but neither fitted nor cross-validated (it cannot test itself)."""
    steady_state: SteadyState | None = None
    """A concentration-effect result: the mean rise (``mean_change`` of SBP, DBP, MAP or HR)
    while a drug's measured plasma concentration is held steady (the arm's treatment is
    then only described, not simulated)."""

    @property
    def assessments_by_time_h(self) -> tuple[float, ...]:
        """The times of ``assessed_at_h`` at or before ``time_h`` (h after the session start):
        the assessments a rate read at them counts."""
        return tuple(h for h in self.assessed_at_h or () if h <= (self.time_h or 0.0) + 1e-9)

    @model_validator(mode="before")
    @classmethod
    def _measure_from_endpoint(cls, data: object) -> object:
        """A remission rate counts remitters unless told otherwise (the fields are read, not the text)."""
        if isinstance(data, dict) and data.get("endpoint") == "remission_rate" and "measure" not in data:
            return {**data, "measure": "remission"}
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        rate_measure = _RATE_MEASURES.get(self.endpoint)
        if rate_measure is not None and self.measure != rate_measure:
            raise ValueError(
                f"target {self.id}: measure {self.measure!r} contradicts endpoint {self.endpoint}"
                f" (allowed: {rate_measure!r})"
            )
        if self.score_at_most is not None:
            s = scale(self.scale)
            if self.measure != "remission" or not s.contains(self.score_at_most) or not self.score_at_most_note:
                raise ValueError(
                    f"target {self.id}: score_at_most {self.score_at_most:g} is a remission cut-off within"
                    f" {self.scale}'s range {s.min:g}-{s.max:g} (measure {self.measure!r}), with"
                    " score_at_most_note giving its source"
                )
        if not self.addressable and not self.reason:
            raise ValueError(f"target {self.id}: not addressable needs a reason")
        needs_control = self.endpoint in ("odds_ratio", "difference", "not_significant")
        if needs_control and self.control is None and self.addressable:
            raise ValueError(f"target {self.id}: endpoint {self.endpoint} needs a control arm")
        allowed = (*names("adverse_events"), *INCIDENCE_QUANTITIES)
        if self.quantity is not None and self.quantity not in allowed:
            raise ValueError(f"target {self.id}: quantity {self.quantity!r} is not one of {', '.join(allowed)}")
        if self.endpoint == "fraction_of_effect" and self.fraction is None:
            raise ValueError(f"target {self.id}: fraction_of_effect needs `fraction`")
        if self.fraction == "late_share" and self.late_after_h is None:
            raise ValueError(f"target {self.id}: fraction late_share needs late_after_h")
        over_sessions = ("largest_session_mean_peak", "average_session_mean_peak")
        peaks = ("patient_peak", "patient_peak_sd", *over_sessions)
        bp_peak = self.statistic in peaks and self.scale in ("SBP", "DBP")
        if self.statistic in over_sessions and not bp_peak:
            raise ValueError(f"target {self.id}: {self.statistic} is read from SBP or DBP readings")
        if (bp_peak or self.quantity in BP_INCIDENCES) and self.assessed_at_h is None and self.addressable:
            raise ValueError(f"target {self.id}: a BP peak or rise is read at the readings' times: give assessed_at_h")
        if self.active_control_share is not None:
            placebos = [i for i in (self.control.treatment if self.control else ()) if i.kind == "placebo"]
            if self.endpoint not in ("effect_size", "difference") or not placebos or not self.active_control_note:
                raise ValueError(
                    f"target {self.id}: active_control_share is for an effect size or difference against a "
                    "control with placebo sessions, with active_control_note giving its source"
                )
        if self.assessments_needed > 1:
            if self.endpoint not in _RATE_MEASURES or self.assessed_at_h is None:
                raise ValueError(
                    f"target {self.id}: assessments_needed {self.assessments_needed} is for a response or remission "
                    f"rate read at assessed_at_h (endpoint {self.endpoint}, assessed_at_h {self.assessed_at_h})"
                )
            counted = self.assessments_by_time_h
            if self.assessments_needed > len(counted):
                raise ValueError(
                    f"target {self.id}: assessments_needed {self.assessments_needed} is more than the "
                    f"{len(counted)} assessments of assessed_at_h at or before time_h {self.time_h}"
                )
        timed = self.endpoint == "median_days_to_improvement" and self.addressable
        if timed and (self.improvement_points is None or not self.assessed_at_h):
            raise ValueError(f"target {self.id}: median_days_to_improvement needs improvement_points and assessed_at_h")
        steady = self.steady_state is not None
        if steady and (self.endpoint != "mean_change" or self.scale not in STEADY_RISE_SCALES):
            scales = ", ".join(STEADY_RISE_SCALES)
            raise ValueError(f"target {self.id}: steady_state is for the mean_change of {scales}")
        if self.scale == "MAP" and not steady:
            raise ValueError(f"target {self.id}: scale MAP is read at a steady concentration: give steady_state")
        if self.fraction == "share_of_reference" and self.reference_time_h is None:
            raise ValueError(f"target {self.id}: fraction share_of_reference needs reference_time_h")
        if self.bound is not None and (self.endpoint == "not_significant" or self.tolerance == 0):
            raise ValueError(
                f"target {self.id}: bound {self.bound!r} needs a tolerance > 0 (got {self.tolerance:g}) and a"
                f" measured endpoint (got {self.endpoint})"
            )
        return self

    def passes(self, predicted: float) -> bool:
        """Within tolerance (or within the reported 95% CI when tolerance is 0 and a CI is given)."""
        if self.endpoint == "not_significant":
            return abs(predicted) < self.tolerance
        if self.tolerance == 0 and self.ci is not None:
            return self.ci[0] <= predicted <= self.ci[1]
        return self.excess(predicted) <= self.tolerance + 1e-12

    def excess(self, predicted: float) -> float:
        """How far the prediction is from ``observed``, or beyond its bound (0 on its side)."""
        if self.bound == "upper":
            return max(0.0, predicted - self.observed)
        if self.bound == "lower":
            return max(0.0, self.observed - predicted)
        return abs(predicted - self.observed)


@cache
def load_targets() -> tuple[Target, ...]:
    """Every packaged target, in file order (ids unique)."""
    targets = tuple(Target.model_validate(t) for t in read_packaged_yaml("targets.yaml"))
    ids = [t.id for t in targets]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate target ids in targets.yaml")
    return targets
