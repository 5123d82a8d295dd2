"""Comparator treatments modelled empirically: electroconvulsive therapy (ECT), antipsychotic
augmentation and a switch of antidepressant.  Their courses come from published response,
remission, time-course and relapse figures (``data/pd/comparators.yaml``), not from the
ketamine cascade.

A comparator removes a fraction of baseline severity:

    remaining_c(t) = exp(−g·E·Z(t)),   g = exp(ω·z),  z ~ N(0, 1) per patient

    ECT (sessions):  Z(t) = n(t)/n_course · exp(−(t − t_n)/τ_off)
                     n(t) sessions given by t, the latest at t_n: each session adds the same
                     effect, E being that of a typical course of n_course sessions (a
                     saturating 1 − exp(−n/N_c) was tried: the anchors drove N_c to ∞)
    a drug (onset):  Z(t) = 1 − exp(−(t − t_start)/τ_onset)

E, ω and τ_off are *derived* (:func:`derive`): the values with which this very model —
its rater noise (``residual_sd_log``, at entry and at the visit) and baseline spread (CV 15%) included — reproduces the
published anchors, computed by Gauss–Hermite quadrature over z and the baseline and solved
with SciPy.  They are therefore not free parameters, and those anchors are in-sample for the
comparator arms (docs/trials.md).  A drug comparator's ω is the model's own spread of a newly
started oral antidepressant (``ssri_gain_omega``, **assumed**: no trial of these drugs
reporting response and remission with its baseline was found); its E reproduces the
remission anchor and the response anchor, where there is one, is reported as a check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.typing import NDArray
from scipy import optimize, special

from ketasim.io.data import read_packaged_yaml
from ketasim.regimens import AntidepressantSwitch, AntipsychoticAugmentation, EctCourse, TreatmentItem

FloatArray = NDArray[np.float64]
BASELINE_CV = 0.15
"""Between-patient spread of baseline scores (as in :mod:`ketasim.population`)."""
QUADRATURE_NODES = 120
PATIENT_GRID_POINTS = 6001
RELAPSE_HORIZON_DAYS = 182.0
"""Six months, the horizon of the ECT relapse anchor (Jelovac 2013)."""
MAX_KETECT_SESSIONS = 12


@dataclass(frozen=True)
class ComparatorEffect:
    """A comparator's derived course parameters and how well they reproduce their anchors."""

    name: str
    title: str
    course: Literal["sessions", "onset"]
    effect: float
    omega: float
    course_sessions: float | None
    tau_off_h: float | None
    tau_onset_h: float | None
    discontinuation_per_session: float
    discontinuation_per_week: float
    anchors: dict[str, tuple[float, float]] = field(default_factory=dict)
    """anchor → (published, reproduced by the derived parameters)."""


@dataclass(frozen=True)
class ComparatorSchedule:
    """One comparator item of a treatment: its sessions (ECT) or its start (a drug), in hours."""

    name: str
    session_h: tuple[float, ...] = ()
    start_h: float | None = None


def comparator_name(item: TreatmentItem) -> str | None:
    """The comparators.yaml entry of a treatment item (None for what the cascade models)."""
    if isinstance(item, EctCourse):
        return "ect"
    if isinstance(item, AntipsychoticAugmentation):
        return item.drug
    if isinstance(item, AntidepressantSwitch):
        return "antidepressant_switch"
    return None


def schedules(treatment: Sequence[TreatmentItem]) -> tuple[ComparatorSchedule, ...]:
    """The comparator items of a treatment as schedules."""
    out: list[ComparatorSchedule] = []
    for item in treatment:
        name = comparator_name(item)
        if name is None:
            continue
        if isinstance(item, EctCourse):
            out.append(ComparatorSchedule(name, tuple(24.0 * d + item.hour_of_day for d in item.days)))
        else:
            assert isinstance(item, AntipsychoticAugmentation | AntidepressantSwitch)
            out.append(ComparatorSchedule(name, start_h=24.0 * item.start_day))
    return tuple(out)


def time_course(schedule: ComparatorSchedule, effect: ComparatorEffect, times_h: FloatArray) -> FloatArray:
    """Z(t) in [0, 1] at ``times_h`` (see the module docstring)."""
    t = np.asarray(times_h, dtype=np.float64)
    if effect.course == "sessions":
        assert effect.course_sessions is not None and effect.tau_off_h is not None
        s = np.asarray(schedule.session_h, dtype=np.float64)
        n = np.searchsorted(s, t, side="right")  # sessions given by t
        latest = np.where(n > 0, s[np.maximum(n - 1, 0)], t)
        z: FloatArray = n / effect.course_sessions * np.exp(-(t - latest) / effect.tau_off_h)
        return z
    assert effect.tau_onset_h is not None and schedule.start_h is not None
    elapsed = np.maximum(t - schedule.start_h, 0.0)
    return np.asarray(-np.expm1(-elapsed / effect.tau_onset_h))


def comparator_drive(
    comparators: Sequence[ComparatorSchedule],
    times_h: FloatArray,
    z: FloatArray,
    residual_sd: float,
    drug_omega: float,
) -> FloatArray | None:
    """Σ_c g_c·E_c·Z_c(t) per patient (P, T), for :func:`ketasim.pd.symptoms.remaining_fraction`;
    None without comparators.  ``z`` is each patient's standard-normal comparator effect;
    ``residual_sd`` and ``drug_omega`` the parameter set's ``residual_sd_log`` and
    ``ssri_gain_omega``."""
    if not comparators:
        return None
    total = np.zeros((np.size(z), np.size(times_h)))
    for schedule in comparators:
        effect = comparator_effect(schedule.name, residual_sd, drug_omega)
        gain = effect.effect * np.exp(effect.omega * np.asarray(z, dtype=np.float64))
        total += gain[:, None] * time_course(schedule, effect, times_h)[None, :]
    return total


# --- derivation from the published anchors ---------------------------------------------------------

_X, _W = hermegauss(QUADRATURE_NODES)
_W = _W / _W.sum()  # expectation over a standard normal (baselines: a smooth integrand)
_XP = np.linspace(-9.0, 9.0, PATIENT_GRID_POINTS)
_WP = special.ndtr(np.append(0.5 * (_XP[1:] + _XP[:-1]), np.inf)) - special.ndtr(
    np.insert(0.5 * (_XP[1:] + _XP[:-1]), 0, -np.inf)
)
"""Patients: a dense grid, each point carrying the normal mass of its cell.  Gauss–Hermite
nodes are too far apart for the near-step the rater's small residual makes of the patient
integrand (120 nodes erred by 0.005 at σ 0.13, ω 2)."""


def _phi(x: FloatArray) -> FloatArray:
    return np.asarray(special.ndtr(x))


def _rated_sd(sigma: float) -> float:
    """SD of log(rated score / recorded baseline) at a fixed drive: the visit's rating and the
    entry rating each vary by σ, independently (:func:`ketasim.pd.symptoms.entry_severity`)."""
    return sigma * math.sqrt(2.0)


def p_response(effect: float, omega: float, z_course: float, sigma: float, drop: float) -> float:
    """P(rated score ≤ (1 − drop)·recorded baseline): E_z Φ((log(1 − drop) + g·E·Z)/(σ√2))."""
    drive = effect * np.exp(omega * _XP) * z_course
    return float(_WP @ _phi((math.log1p(-drop) + drive) / _rated_sd(sigma)))


def p_remission(effect: float, omega: float, z_course: float, sigma: float, baseline: float, at_most: float) -> float:
    """P(rated score ≤ ``at_most``) over patients and recorded baselines (mean ``baseline``,
    CV 15%), the entry rating's variability included."""
    drive = effect * np.exp(omega * _XP)[:, None] * z_course
    b = baseline * np.maximum(1.0 + BASELINE_CV * _X, 1e-3)[None, :]
    p = _phi((np.log(at_most / b) + drive) / _rated_sd(sigma))
    return float(_WP @ p @ _W)


def _remitted_by(effect: float, omega: float, z_course: float, baseline: float, at_most: float) -> float:
    """P(g·E·Z ≥ log(b/at_most)) without rater noise (analytic in z, quadrature over b)."""
    b = baseline * np.maximum(1.0 + BASELINE_CV * _X, 1e-3)
    need = np.log(np.maximum(b / at_most, 1.0 + 1e-12))
    return float(_W @ _phi((math.log(effect * z_course) - np.log(need)) / omega))


def _median_sessions_to_remission(effect: float, omega: float, course: float, baseline: float, at_most: float) -> float:
    """Median first session of remission among those remitting within 12 sessions (no noise)."""

    def by(n: float) -> float:
        return _remitted_by(effect, omega, n / course, baseline, at_most)

    total = by(MAX_KETECT_SESSIONS)
    return float(optimize.brentq(lambda n: by(n) - 0.5 * total, 1e-6, MAX_KETECT_SESSIONS))


def _relapse(
    effect: float, omega: float, z_end: float, tau_off_days: float, baseline: float, at_most: float, drop: float
) -> float:
    """Among remitters at the end of a course, P(no longer responding after 6 months) (no noise)."""
    b = baseline * np.maximum(1.0 + BASELINE_CV * _X, 1e-3)
    remit_at = np.log(np.log(np.maximum(b / at_most, 1.0 + 1e-12)) / (effect * z_end)) / omega
    keep_at = (math.log(-math.log1p(-drop) / (effect * z_end)) + RELAPSE_HORIZON_DAYS / tau_off_days) / omega
    remitted = _phi(-remit_at)
    relapsed = np.clip(_phi(np.full_like(b, keep_at)) - _phi(remit_at), 0.0, None)
    return float((_W @ relapsed) / max(float(_W @ remitted), 1e-12))


def _value(entry: dict[str, Any], key: str) -> float:
    return float(entry[key]["value"])


def _ect(data: dict[str, Any], sigma: float) -> ComparatorEffect:
    a = data["anchors"]
    d = a["definitions"]
    drop, at_most, base = float(d["response_drop"]), float(d["remission_max"]), _value(a, "baseline")
    course = _value(a, "course_sessions")
    targets = np.array([_value(a, "response"), _value(a, "remission")])

    def predicted(x: FloatArray) -> FloatArray:
        effect, omega = np.exp(x)
        return np.array(
            [p_response(effect, omega, 1.0, sigma, drop), p_remission(effect, omega, 1.0, sigma, base, at_most)]
        )

    fit = optimize.least_squares(
        lambda x: (predicted(x) - targets) / 0.01,
        x0=np.log([1.5, 0.5]),
        bounds=(np.log([0.05, 0.02]), np.log([20.0, 3.0])),
    )
    effect, omega = (float(v) for v in np.exp(fit.x))
    z_end = 1.0
    relapse = _value(a, "relapse_6_months")

    def relapse_gap(log_tau: float) -> float:
        return _relapse(effect, omega, z_end, math.exp(log_tau), base, at_most, drop) - relapse

    tau_off_days = math.exp(optimize.brentq(relapse_gap, math.log(5.0), math.log(1e5)))
    got = predicted(fit.x)
    return ComparatorEffect(
        name="ect",
        title=str(data["title"]),
        course="sessions",
        effect=effect,
        omega=omega,
        course_sessions=course,
        tau_off_h=24.0 * tau_off_days,
        tau_onset_h=None,
        discontinuation_per_session=_value(data, "discontinuation_per_session"),
        discontinuation_per_week=0.0,
        anchors={
            "response": (float(targets[0]), float(got[0])),
            "remission": (float(targets[1]), float(got[1])),
            "median_sessions_to_remission (check)": (
                _value(a, "median_sessions_to_remission"),
                _median_sessions_to_remission(effect, omega, course, base, at_most),
            ),
            "relapse_6_months": (relapse, relapse_gap(math.log(tau_off_days)) + relapse),
        },
    )


def _onset_drug(name: str, data: dict[str, Any], sigma: float, omega: float, tau_days: float) -> ComparatorEffect:
    """E for a drug comparator with onset τ: the remission anchor reproduced; response (if
    published) reported as a check."""
    a = data["anchors"]
    d = a["definitions"]
    drop, at_most, base = float(d["response_drop"]), float(d["remission_max"]), _value(a, "baseline")
    remission = a["remission"]
    z_end = -math.expm1(-float(remission["at_day"]) / tau_days)

    def gap(log_effect: float) -> float:
        return p_remission(math.exp(log_effect), omega, z_end, sigma, base, at_most) - float(remission["value"])

    effect = math.exp(optimize.brentq(gap, math.log(1e-3), math.log(50.0)))
    anchors = {"remission": (float(remission["value"]), gap(math.log(effect)) + float(remission["value"]))}
    if "response" in a:
        anchors["response (check)"] = (_value(a, "response"), p_response(effect, omega, z_end, sigma, drop))
    return ComparatorEffect(
        name=name,
        title=str(data["title"]),
        course="onset",
        effect=effect,
        omega=omega,
        course_sessions=None,
        tau_off_h=None,
        tau_onset_h=24.0 * tau_days,
        discontinuation_per_session=0.0,
        discontinuation_per_week=_value(data, "discontinuation_per_week"),
        anchors=anchors,
    )


def _week1_tau_days(a: dict[str, Any]) -> float:
    """Onset τ (days) from the fraction of the change at ``at_day`` already present at day 7."""
    fraction, at_day = _value(a, "week1_fraction"), float(a["week1_fraction"]["at_day"])
    return float(optimize.brentq(lambda tau: math.expm1(-7.0 / tau) / math.expm1(-at_day / tau) - fraction, 0.1, 1e3))


@lru_cache(maxsize=32)
def comparator_effect(name: str, residual_sd: float, drug_omega: float) -> ComparatorEffect:
    """The derived parameters of comparator ``name`` (``ect``, an augmentation drug such as
    ``quetiapine_xr``, ``antidepressant_switch``) for the model's rater noise σ and the spread
    of a newly started antidepressant."""
    return derive(residual_sd, drug_omega)[name]


@lru_cache(maxsize=8)
def derive(residual_sd: float, drug_omega: float) -> dict[str, ComparatorEffect]:
    """Every comparator's parameters, derived from its anchors (``data/pd/comparators.yaml``)."""
    data = read_packaged_yaml("pd/comparators.yaml")
    switch = data["antidepressant_switch"]
    out = {
        "ect": _ect(data["ect"], residual_sd),
        "antidepressant_switch": _onset_drug(
            "antidepressant_switch", switch, residual_sd, drug_omega, _value(switch["anchors"], "tau_onset_days")
        ),
    }
    for drug, entry in data["antipsychotic_augmentation"]["drugs"].items():
        out[drug] = _onset_drug(drug, entry, residual_sd, drug_omega, _week1_tau_days(entry["anchors"]))
    return out
