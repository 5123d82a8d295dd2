"""The structure the out-of-sample misses pointed at: placebo by context, the antidepressant
falling with resistance, benefit that builds over a series, blood pressure that varies
between patients — and the default course the issue asks for."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketasim.covariates import Covariates
from ketasim.model import simulate_course
from ketasim.model.scenario import DEFAULT_SCENARIO, simulate_scenario
from ketasim.params import default_parameters
from ketasim.population import Demographics, sample_population
from ketasim.regimens import KetamineSessions, OralAntidepressant, PlaceboSessions, TreatmentItem

PARAMS = default_parameters()


def _population_change(
    treatment: list[TreatmentItem], demographics: Demographics, days: float, n: int = 400, **params: float
) -> float:
    """Mean MADRS change of a TRD population at ``days`` (no rater noise)."""
    p = PARAMS.replace(params) if params else PARAMS
    pop = sample_population(n, 11, "trd", {"MADRS": 32.0}, demographics)
    r = simulate_course(
        treatment, pop.covariates, "trd", pop.baselines, 24.0 * days, [24.0 * days], params=p,
        pk_etas=pop.pk_etas, gains=pop.gains(p),
    )  # fmt: skip
    return float(np.mean(r.scales["MADRS"][:, 0] - pop.baselines["MADRS"]))


@settings(max_examples=8, deadline=None)
@given(factor=st.floats(0.3, 0.95), fewer=st.integers(0, 2), extra=st.integers(1, 3))
def test_more_failed_trials_never_help_the_antidepressant(factor: float, fewer: int, extra: int) -> None:
    ad = [OralAntidepressant(start_day=0, newly_started=True)]
    a = _population_change(ad, Demographics(failed_trials=(fewer, fewer)), 42, n=200, ssri_resistance_factor=factor)
    b = _population_change(
        ad, Demographics(failed_trials=(fewer + extra, fewer + extra)), 42, n=200, ssri_resistance_factor=factor
    )
    assert b > a  # changes are negative: a smaller fall with more failed trials


def test_placebo_context_emergency_and_open_label_raise_inpatient_does_not() -> None:
    saline = [PlaceboSessions(placebo="saline", days=(0,))]
    gains = {"placebo_emergency_gain": 2.0, "placebo_open_label_gain": 1.5}
    out = _population_change(saline, Demographics(), 1, **gains)
    assert _population_change(saline, Demographics(setting="emergency"), 1, **gains) < out
    assert _population_change(saline, Demographics(open_label=True), 1, **gains) < out
    assert _population_change(saline, Demographics(setting="inpatient"), 1, **gains) == pytest.approx(out)


def test_the_series_memory_is_the_only_thing_that_makes_later_sessions_count_more() -> None:
    """With a_L = 0 the fifth session's added benefit is what the saturating drive gives;
    with a_L > 0 it is larger."""
    cov = Covariates.one(70.0)
    six = [KetamineSessions(dose_mg_per_kg=0.5, days=(0, 2, 4, 7, 9, 11))]
    day = [24.0 * 12]
    base = {"MADRS": [32.0]}
    without = simulate_course(six, cov, "trd", base, 24 * 13, day, params=PARAMS.replace(series_gain=1e-3))
    with_memory = simulate_course(six, cov, "trd", base, 24 * 13, day, params=PARAMS.replace(series_gain=1.0))
    assert with_memory.scales["MADRS"][0, 0] < without.scales["MADRS"][0, 0]


def test_blood_pressure_sensitivity_is_log_normal_across_patients() -> None:
    """Oracle: with the rise × exp(η), η ~ N(0, ω²), the mean rise over patients is the
    typical rise × exp(ω²/2) (to Monte Carlo error)."""
    omega = 0.6
    p = PARAMS.replace(bp_omega=omega)
    pop = sample_population(4000, 5, "trd", {"MADRS": 32.0})
    pop = pop.take(np.arange(4000))
    cov = Covariates(np.full(4000, 70.0), np.full(4000, 40.0), np.zeros(4000, dtype=bool))
    infusion = [KetamineSessions(dose_mg_per_kg=0.5, days=(0,), hour_of_day=0)]
    at = [40 / 60]
    r = simulate_course(infusion, cov, "trd", {"MADRS": np.full(4000, 32.0)}, 2.0, at, params=p, gains=pop.gains(p))
    typical = simulate_course(infusion, Covariates.one(70.0), "trd", {"MADRS": [32]}, 2.0, at, params=p)
    rise = r.adverse["sbp_mmhg"][:, 0] - 120.0
    expected = (typical.adverse["sbp_mmhg"][0, 0] - 120.0) * np.exp(omega**2 / 2)
    assert np.mean(rise) == pytest.approx(expected, rel=0.05)


# ---- the default course the issue asks for ------------------------------------------------


def test_default_course_improves_over_the_series_not_only_after_session_one() -> None:
    """The typical patient's MADRS the day after the sixth infusion is at least 2 points below
    the day after the first (2 points: above the minimal clinically important difference of
    1.6-1.9 on MADRS, Duru & Fantino 2008 Curr Med Res Opin 24:1329)."""
    r = simulate_scenario(DEFAULT_SCENARIO)
    t, madrs = r.times_h, r.scales["MADRS"][0]
    start = 24.0 * 0 + 9.0
    after_first = madrs[np.argmin(abs(t - (start + 24.0)))]
    after_sixth = madrs[np.argmin(abs(t - (start + 24.0 * 12)))]
    assert after_sixth <= after_first - 2.0


def test_default_course_dissociation_peaks_30_to_50_min_after_start_and_resolves_by_2_h() -> None:
    r = simulate_scenario(DEFAULT_SCENARIO)
    t, cadss = r.times_h, r.adverse["cadss"][0]
    start = 9.0
    window = (t >= start) & (t <= start + 4)
    peak_h = t[window][np.argmax(cadss[window])] - start
    assert 0.5 <= peak_h <= 50 / 60
    assert np.all(cadss[(t >= start + 2.0) & (t <= start + 4.0)] <= 4.0)  # CADSS > 4 is dissociation


@pytest.mark.xfail(
    strict=True,
    reason="Known miss (2026-12-02 calibration): mean peak SBP rise 11.4 mmHg (in range) but the 90th "
    "percentile is 24.4, not > 25: the fitted between-patient spread (omega_BP 0.89) is held down by "
    "the mean-curve target (+7.4 mmHg, Chinese cohort); no between-session or reading-to-reading variability.",
)
def test_default_course_blood_pressure_rise_at_half_a_milligram_per_kilogram() -> None:
    """Mean peak SBP rise 10-20 mmHg over patients, 90th percentile above 25 (Yale series of
    2,342 infusions: mean peak +16 mmHg; label: 8-19% rise >= 40 mmHg)."""
    n = 2000
    pop = sample_population(n, 3, "trd", {"MADRS": 32.0})
    infusion = [KetamineSessions(dose_mg_per_kg=0.5, days=(0,), hour_of_day=0)]
    times = np.arange(0.0, 3.0, 5 / 60)
    r = simulate_course(
        infusion, pop.covariates, "trd", pop.baselines, 3.0, times, pk_etas=pop.pk_etas, gains=pop.gains(PARAMS)
    )
    peak_rise = np.max(r.adverse["sbp_mmhg"], axis=1) - r.adverse["sbp_mmhg"][:, 0]
    assert 10.0 <= float(np.mean(peak_rise)) <= 20.0
    assert float(np.quantile(peak_rise, 0.9)) > 25.0
