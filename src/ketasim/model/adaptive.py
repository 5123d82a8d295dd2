"""Courses that follow the patient: each session decided before it is given, as a rater sees
the patient then — stop at response or remission, escalate unless responding, reduce after
too much dissociation, a maximum number of sessions.

For every session of an adaptive course (in time order) the whole population is simulated up
to that session's pre-dose rating with the doses decided so far (the model is causal, so
later sessions do not matter), the rating is taken, and every patient's dose for the session
is decided at once with masks — one simulation per session, no loop over patients.  The
result is a :data:`ketasim.model.course.DoseScale`: each patient's multiplier of each
session's nominal dose (0 = not given), which :func:`ketasim.model.expose` then simulates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ketasim.covariates import Covariates
from ketasim.errors import InputError
from ketasim.model.course import DoseScale, expose, outcomes
from ketasim.params import ParameterSet
from ketasim.pd.symptoms import PatientGains
from ketasim.regimens import KetamineSessions, StopWhen, TreatmentItem
from ketasim.vocabulary import scale as scale_entry

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
PRE_DOSE_H = 5.0 / 60.0
"""A decision is taken on the rating this long before the session's dose."""
CADSS_WINDOW_H = 4.0
CADSS_STEP_H = 5.0 / 60.0
Rater = Callable[[FloatArray, int], FloatArray]
"""(model scores (P,), decision number) → the scores as a rater records them."""


@dataclass
class _CourseState:
    """Where one adaptive course stands for every patient (mutated session by session)."""

    dose: FloatArray
    stopped: BoolArray
    reduced: BoolArray
    given: FloatArray


def decide_sessions(
    treatment: Sequence[TreatmentItem],
    covariates: Covariates,
    condition: str,
    baselines: Mapping[str, FloatArray],
    scale_name: str,
    params: ParameterSet,
    *,
    pk_etas: Mapping[str, Mapping[str, FloatArray]] | None = None,
    gains: PatientGains | None = None,
    rate: Rater | None = None,
) -> DoseScale:
    """Each patient's multiplier of each session of every adaptive course in ``treatment``
    (empty when no course is adaptive).  ``rate`` turns model scores into recorded ones
    (default: as modelled, no rater noise)."""
    courses = {i: item for i, item in enumerate(treatment) if isinstance(item, KetamineSessions) and item.is_adaptive}
    if not courses:
        return {}
    n = covariates.n
    s = scale_entry(scale_name)
    baseline = np.asarray(baselines[scale_name], dtype=np.float64)
    scale: dict[int, FloatArray] = {i: np.ones((n, len(item.days))) for i, item in courses.items()}
    state = {
        i: _CourseState(np.full(n, item.dose_value), np.zeros(n, bool), np.zeros(n, bool), np.zeros(n))
        for i, item in courses.items()
    }
    decisions = sorted(
        (24.0 * d + item.hour_of_day, i, k) for i, item in courses.items() for k, d in enumerate(item.days)
    )
    for number, (t_session, i, k) in enumerate(decisions):
        item, st = courses[i], state[i]
        if k > 0:  # the first session of a course is always given
            t_rate = max(t_session - PRE_DOSE_H, 0.0)
            previous = 24.0 * item.days[k - 1] + item.hour_of_day
            window = previous + np.arange(0.0, CADSS_WINDOW_H + 1e-9, CADSS_STEP_H)
            times = np.unique(np.append(window[window < t_rate], t_rate))
            ex = expose(
                treatment, covariates, t_rate, params=params, pk_etas=pk_etas, output_times_h=times, dose_scale=scale,
                readouts_only=True,
            )  # fmt: skip
            res = outcomes(ex, condition, baselines, times, params=params, gains=gains)
            score = res.scales[scale_name][:, -1]
            rated = rate(score, number) if rate is not None else score
            responded = np.asarray(s.responded(rated, baseline), dtype=bool)
            if item.stop_when is not None:
                st.stopped |= _reached(item.stop_when, scale_name, rated, baseline)
            if item.reduce_for is not None:
                peak = np.max(res.adverse["cadss"][:, times < t_rate], axis=1, initial=0.0)
                too_much = (peak > item.reduce_for.cadss_above) & ~st.reduced
                st.dose = np.where(too_much, item.reduce_for.target, st.dose)
                st.reduced |= too_much
            for step in item.escalation_steps:
                if k >= step.after_session:
                    up = ~st.reduced & ~(responded & step.unless_response)
                    st.dose = np.where(up & (st.dose < step.target), step.target, st.dose)
        if item.max_sessions is not None:
            st.stopped |= st.given >= item.max_sessions
        multiplier = np.where(st.stopped, 0.0, st.dose / item.dose_value)
        scale[i][:, k:] = multiplier[:, None]  # later sessions as this one until decided
        st.given = st.given + ~st.stopped
    return scale


def _reached(rule: StopWhen, scale_name: str, rated: FloatArray, baseline: FloatArray) -> BoolArray:
    """Who meets a stop rule on the rated scale (the rule's scale must be the one rated)."""
    if rule.scale is not None and rule.scale != scale_name:
        raise InputError.one(
            "stop_when.scale", f"{rule.scale!r} is not rated here; the course is rated on {scale_name}"
        )
    s = scale_entry(scale_name)
    if rule.score_at_most is not None and not s.contains(rule.score_at_most):
        raise InputError.one(
            "stop_when.score_at_most", f"{rule.score_at_most:g} is outside {scale_name}'s range {s.min:g}-{s.max:g}"
        )
    hit = s.responded(rated, baseline) if rule.response else s.remitted(rated, rule.score_at_most)
    return np.asarray(hit, dtype=bool)


def doses_decided(treatment: Sequence[TreatmentItem], scale: DoseScale) -> dict[int, FloatArray]:
    """Per adaptive course, each patient's dose of each session (mg or mg/kg; 0 = not given)."""
    out: dict[int, FloatArray] = {}
    for i, s in scale.items():
        item = treatment[i]
        assert isinstance(item, KetamineSessions)
        out[i] = item.dose_value * s
    return out
