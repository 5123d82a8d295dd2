"""The structure the out-of-sample misses pointed at: placebo by context, the antidepressant
falling with resistance, benefit that builds over a series, blood pressure that varies
between patients — and the default course the issue asks for."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import integrate, stats

from ketasim.covariates import Covariates
from ketasim.model import simulate_course
from ketasim.model.scenario import DEFAULT_SCENARIO, simulate_scenario
from ketasim.params import ParameterSet, default_parameters
from ketasim.pd.adverse import AdverseParameters, record_bp
from ketasim.population import Demographics, sample_population, session_normals
from ketasim.regimens import KetamineSessions, OralAntidepressant, PlaceboSessions, TreatmentItem

PARAMS = default_parameters()

FloatArray = NDArray[np.float64]


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


def test_placebo_context_emergency_open_label_and_lead_in_raise_inpatient_does_not() -> None:
    saline = [PlaceboSessions(placebo="saline", days=(0,))]
    gains = {"placebo_emergency_gain": 2.0, "placebo.open_label_gain": 1.5}
    out = _population_change(saline, Demographics(), 1, **gains)
    assert _population_change(saline, Demographics(setting="emergency"), 1, **gains) < out
    assert _population_change(saline, Demographics(open_label=True), 1, **gains) < out
    assert _population_change(saline, Demographics(lead_in=True), 1, **gains) < out
    no_lead_in_effect = {**gains, "placebo.lead_in_gain": 1.0}
    assert _population_change(saline, Demographics(lead_in=True), 1, **no_lead_in_effect) == pytest.approx(out)
    assert _population_change(saline, Demographics(setting="inpatient"), 1, **gains) == pytest.approx(out)


def test_the_synapse_index_is_what_makes_a_series_build() -> None:
    """Benefit carries from session to session through the synapse index (τ of days): the
    gain from the day after session 1 to the day after session 6 shrinks when the index's
    weight in the drive is at its lower bound, and the index itself is higher after six."""
    cov = Covariates.one(70.0)
    six = [KetamineSessions(dose_mg_per_kg=0.5, days=(0, 2, 4, 7, 9, 11))]
    days = [24.0 * 1 + 12.0, 24.0 * 12 + 12.0]
    base = {"MADRS": [32.0]}

    def built(p: ParameterSet) -> tuple[float, FloatArray]:
        r = simulate_course(six, cov, "trd", base, 24 * 13, days, params=p)
        return float(r.scales["MADRS"][0, 0] - r.scales["MADRS"][0, 1]), r.states["synapses"][0]

    packaged, synapses = built(PARAMS)
    assert synapses[1] > synapses[0]
    assert packaged > built(PARAMS.replace(efficacy_slow_weight=0.01))[0]


def _first_infusion_sbp_rise(p: ParameterSet, n: int, days: tuple[int, ...] = (0,)) -> np.ndarray:
    """(patients × sessions) SBP rise at the end of each 0.5 mg/kg 40-min infusion, 70 kg
    40-year-old men (no PK spread), each patient's own BP random effects."""
    pop = sample_population(n, 5, "trd", {"MADRS": 32.0})
    cov = Covariates(np.full(n, 70.0), np.full(n, 40.0), np.zeros(n, dtype=bool))
    infusions = [KetamineSessions(dose_mg_per_kg=0.5, days=days, hour_of_day=0)]
    at = [24.0 * d + 40 / 60 for d in days]
    r = simulate_course(
        infusions, cov, "trd", {"MADRS": np.full(n, 32.0)}, 24.0 * days[-1] + 2.0, at, params=p, gains=pop.gains(p)
    )
    return np.asarray(r.adverse["sbp_mmhg"] - 120.0)


def test_blood_pressure_sensitivity_is_log_normal_across_patients_and_sessions() -> None:
    """Oracle: with the rise × exp(η + κ), η ~ N(0, ω²) per patient and κ ~ N(0, ω_s²) per
    session, the mean rise over patients is the typical rise × exp((ω² + ω_s²)/2)."""
    omega, omega_s = 0.6, 0.4
    p = PARAMS.replace({"adverse.bp_omega": omega, "bp_session_omega": omega_s})
    rise = _first_infusion_sbp_rise(p, 4000)[:, 0]
    typical = _first_infusion_sbp_rise(p.replace({"adverse.bp_omega": 1e-9, "bp_session_omega": 1e-9}), 1)[0, 0]
    assert np.mean(rise) == pytest.approx(typical * np.exp((omega**2 + omega_s**2) / 2), rel=0.05)


def test_blood_pressure_varies_between_one_patients_sessions_only_by_the_session_spread() -> None:
    """Eight identical weekly infusions (occupancy identical, BP has no tolerance): without a
    session spread each patient's rises are equal; with it, log(rise_k / rise_1) has SD
    ω_s·√2 for k > 1 (oracle: the difference of two independent N(0, ω_s²))."""
    days = tuple(range(0, 56, 7))
    same = _first_infusion_sbp_rise(PARAMS.replace({"adverse.bp_omega": 0.6, "bp_session_omega": 0.0}), 200, days)
    np.testing.assert_allclose(same, same[:, [0]] * np.ones((1, len(days))), rtol=1e-6)  # earlier doses' tails
    omega_s = 0.5
    varied = _first_infusion_sbp_rise(
        PARAMS.replace({"adverse.bp_omega": 0.6, "bp_session_omega": omega_s}), 2000, days
    )
    log_ratio = np.log(varied[:, 1:] / varied[:, [0]])
    assert np.std(log_ratio) == pytest.approx(omega_s * np.sqrt(2.0), rel=0.05)
    # at a fixed total spread, moving it between sessions raises "a rise >= 40 at least once"
    total = 0.8
    between = _first_infusion_sbp_rise(
        PARAMS.replace({"adverse.bp_omega": total, "bp_session_omega": 1e-9}), 2000, days
    )
    split = np.sqrt(total**2 / 2)
    within = _first_infusion_sbp_rise(
        PARAMS.replace({"adverse.bp_omega": split, "bp_session_omega": split}), 2000, days
    )
    assert np.mean(within.max(axis=1) >= 40) > np.mean(between.max(axis=1) >= 40)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 50), sessions=st.integers(1, 40), extra=st.integers(1, 20), seed=st.integers(0, 2**63 - 1))
def test_session_normals_do_not_depend_on_how_many_sessions_or_patients(
    n: int, sessions: int, extra: int, seed: int
) -> None:
    keys = np.random.default_rng(seed % 2**32).integers(0, 2**63, n + 3, dtype=np.uint64)
    short = session_normals(keys[:n], sessions)
    long = session_normals(keys, sessions + extra)
    np.testing.assert_array_equal(short, long[:n, :sessions])
    assert np.all(np.isfinite(long))


def test_session_normals_are_independent_standard_normals() -> None:
    """Kolmogorov-Smirnov against N(0, 1) (scipy), and no correlation between sessions."""
    keys = np.random.default_rng(1).integers(0, 2**63, 5000, dtype=np.uint64)
    z = session_normals(keys, 8)
    assert stats.kstest(z.ravel(), "norm").pvalue > 1e-3
    corr = np.corrcoef(z.T)[np.triu_indices(8, 1)]
    assert np.max(np.abs(corr)) < 4 / np.sqrt(5000)


# ---- the default course the issue asks for ------------------------------------------------


def _default_course_madrs_after_first_and_sixth() -> tuple[float, float]:
    """The typical patient's MADRS the day after the first and the sixth infusion of the
    default course (sessions on days 0, 2, 4, 7, 9, 11, starting 09:00)."""
    r = simulate_scenario(DEFAULT_SCENARIO)
    t, madrs = r.times_h, r.scales["MADRS"][0]
    start = 24.0 * 0 + 9.0
    after_first = madrs[np.argmin(abs(t - (start + 24.0)))]
    after_sixth = madrs[np.argmin(abs(t - (start + 24.0 * 12)))]
    return float(after_first), float(after_sixth)


def test_default_course_improves_over_the_series_not_only_after_session_one() -> None:
    """The typical patient is better the day after the sixth infusion than the day after the first."""
    after_first, after_sixth = _default_course_madrs_after_first_and_sixth()
    assert after_sixth < after_first


@pytest.mark.xfail(
    strict=True,
    reason="Known miss (packaged calibration of 2026-12-07, thirty-fourth session): 22.4 -> 20.5, 1.8 points "
    "(1.7 at the thirty-second and thirty-third sessions' fits, 1.4 at the thirty-first's, 2.1 at the thirtieth's), "
    "below the 2-point bar since the refit "
    "with three open-label series. docs/model.md section 8, 'Three open-label series'.",
)
def test_default_course_improves_over_the_series_by_more_than_the_mcid() -> None:
    """... by at least 2 MADRS points (above the minimal clinically important difference of
    1.6-1.9 on MADRS, Duru & Fantino 2008 Curr Med Res Opin 24:1329)."""
    after_first, after_sixth = _default_course_madrs_after_first_and_sixth()
    assert after_sixth <= after_first - 2.0


def test_default_course_dissociation_peaks_30_to_50_min_after_start_and_resolves_by_2_h() -> None:
    """Read every minute (a plateau's maximum moves with a coarser grid: read every 15 min, a
    0.01 difference once decided it). Met since the fifteenth session (tolerance carried in
    from earlier sessions only, docs/model.md section 6), on a near-plateau: section 8."""
    r = simulate_scenario(DEFAULT_SCENARIO.model_copy(update={"output_step_h": 1 / 60}))
    t, cadss = r.times_h, r.adverse["cadss"][0]
    start = 9.0
    window = (t >= start) & (t <= start + 4)
    peak_h = t[window][np.argmax(cadss[window])] - start
    assert 0.5 <= peak_h <= 50 / 60
    assert np.all(cadss[(t >= start + 2.0) & (t <= start + 4.0)] <= 4.0)  # CADSS > 4 is dissociation


@cache
def _recorded_peak_sbp_rise_at_half_a_milligram_per_kilogram() -> FloatArray:
    """Each of 2,000 virtual patients' peak SBP rise, read as the Yale series read it: cuff
    readings every 10 min during a 0.5 mg/kg infusion (each with its reading error) against
    the pre-dose one."""
    n = 2000
    pop = sample_population(n, 3, "trd", {"MADRS": 32.0})
    infusion = [KetamineSessions(dose_mg_per_kg=0.5, days=(0,), hour_of_day=0)]
    readings_h = np.array([0.0, 10, 20, 30, 40]) / 60
    r = simulate_course(
        infusion, pop.covariates, "trd", pop.baselines, 3.0, readings_h, pk_etas=pop.pk_etas, gains=pop.gains(PARAMS)
    )
    cuff = record_bp(r.adverse["sbp_mmhg"], "SBP", AdverseParameters.from_params(PARAMS), np.random.default_rng(4))
    peak: FloatArray = np.max(cuff[:, 1:], axis=1) - cuff[:, 0]
    return peak


def test_default_course_mean_blood_pressure_rise_at_half_a_milligram_per_kilogram() -> None:
    """Mean peak SBP rise 10-20 mmHg over patients (Yale series of 2,342 infusions: mean peak
    +16 mmHg, SD 11.2)."""
    assert 10.0 <= float(np.mean(_recorded_peak_sbp_rise_at_half_a_milligram_per_kilogram())) <= 20.0


def test_default_course_blood_pressure_surges_at_half_a_milligram_per_kilogram() -> None:
    """90th percentile of the peak SBP rise above 25 mmHg (label: 8-19% rise >= 40 mmHg)."""
    assert float(np.quantile(_recorded_peak_sbp_rise_at_half_a_milligram_per_kilogram(), 0.9)) > 25.0


def test_a_recorded_peak_overstates_the_true_one_by_the_expected_maximum_of_reading_errors() -> None:
    """Oracle: with a constant true rise, the recorded peak rise of k readings after a pre-dose
    one is the rise + E[max of k N(0, σ²)] on average (scipy's order statistics)."""
    p = AdverseParameters.from_params(PARAMS)
    k, n, rise = 4, 200_000, 12.0
    true = np.concatenate([np.full((n, 1), 120.0), np.full((n, k), 120.0 + rise)], axis=1)
    expected_max = integrate.quad(lambda x: x * k * stats.norm.pdf(x) * stats.norm.cdf(x) ** (k - 1), -10, 10)[0]
    for pressure, sd in (("SBP", p.sbp_reading_sd), ("DBP", p.dbp_reading_sd)):
        cuff = record_bp(true, pressure, p, np.random.default_rng(0))
        recorded = np.max(cuff[:, 1:], axis=1) - cuff[:, 0]
        assert np.mean(recorded) == pytest.approx(rise + sd * expected_max, abs=0.01 * sd)


@pytest.mark.parametrize("reading_sd_mmhg", [6.0, 9.0])
@pytest.mark.parametrize(("target_id", "rise_mmhg"), [("bp1-pbo", 40.0), ("bp2-pbo", 25.0)])
def test_a_placebo_arms_bp_rise_incidence_is_that_of_the_reading_error_alone(
    target_id: str, rise_mmhg: float, reading_sd_mmhg: float
) -> None:
    """Oracle: a placebo spray leaves BP flat, so a 'rise' at least once over the label's eight
    sessions is the reading error's alone: per session P(max of three readings − the pre-dose
    one ≥ c) = ∫ φ(z)·(1 − Φ(z + c/σ)³) dz (scipy), and 1 − (1 − p)⁸ over the course; the
    validation's count of 5,000 virtual patients lies in its binomial 99.9% interval.  Read at
    fixed reading errors of 6 and 9 mmHg, where the incidence is not ~0."""
    from ketasim.trials.targets import load_targets
    from ketasim.trials.validation import Evaluator, predict

    target = next(t for t in load_targets() if t.id == target_id)
    assert target.assessed_at_h is not None and len(target.assessed_at_h) == 4
    params = PARAMS.replace({"sbp_reading_sd_mmhg": reading_sd_mmhg, "dbp_reading_sd_mmhg": reading_sd_mmhg})
    k = len(target.assessed_at_h) - 1
    per_session = integrate.quad(
        lambda z: stats.norm.pdf(z) * (1.0 - stats.norm.cdf(z + rise_mmhg / reading_sd_mmhg) ** k),
        -12,
        12,
        epsabs=1e-12,
    )[0]
    sessions = len(target.arm.treatment[0].days)  # type: ignore[union-attr]
    expected = 1.0 - (1.0 - per_session) ** sessions
    n = 5000
    got, _ = predict(target, Evaluator(n=n, params=params))
    assert got is not None
    lo, hi = stats.binom.interval(0.999, n, expected)
    assert lo / n <= got <= hi / n


def test_a_placebo_arms_largest_mean_peak_over_sessions_is_that_of_the_reading_error_alone() -> None:
    """Oracle for ``largest_session_mean_peak`` (Doherty 2020's 'largest mean maximum increase
    over dosing days'): with BP flat, a patient's recorded rise at a session is σ·(max of k
    N(0, 1) − N(0, 1)), whose mean m and variance v + 1 come from scipy's order statistics; each
    session's mean over n patients is normal, and the largest of S independent ones is
    σ·(m + √((v + 1)/n)·E[max of S N(0, 1)]) on average."""
    from ketasim.trials.targets import load_targets
    from ketasim.trials.validation import Evaluator, predict

    target = next(t for t in load_targets() if t.id == "bp6-pbo-sbp")
    assert target.assessed_at_h is not None
    sigma, n = 6.0, 5000
    k, sessions = len(target.assessed_at_h) - 1, len(target.arm.treatment[0].days)  # type: ignore[union-attr]

    def max_moment(power: int, count: int) -> float:
        density = lambda x: x**power * count * stats.norm.pdf(x) * stats.norm.cdf(x) ** (count - 1)  # noqa: E731
        return float(integrate.quad(density, -12, 12)[0])

    m, v = max_moment(1, k), max_moment(2, k) - max_moment(1, k) ** 2
    se = math.sqrt((v + 1.0) / n)
    expected = sigma * (m + se * max_moment(1, sessions))
    spread = sigma * se * math.sqrt(max_moment(2, sessions) - max_moment(1, sessions) ** 2)
    params = PARAMS.replace({"sbp_reading_sd_mmhg": sigma, "dbp_reading_sd_mmhg": sigma})
    got, _ = predict(target, Evaluator(n=n, params=params))
    assert got is not None and abs(got - expected) < 4.0 * spread


def test_a_placebo_arms_average_mean_peak_over_sessions_is_that_of_the_reading_error_alone() -> None:
    """Oracle for ``average_session_mean_peak`` (Takahashi 2021's 'average maximum increase'
    over dosing days): with BP flat, each patient's recorded rise at a session is σ·(max of k
    N(0, 1) − N(0, 1)), mean σ·m and variance σ²·(v + 1) from scipy's order statistics; the
    average over S sessions of n patients is normal with mean σ·m and SD σ·√((v + 1)/(n·S))."""
    from ketasim.trials.targets import load_targets
    from ketasim.trials.validation import Evaluator, predict

    target = next(t for t in load_targets() if t.id == "tk21-pbo-dbp")
    assert target.assessed_at_h is not None and target.statistic == "average_session_mean_peak"
    sigma, n = 6.0, 2000
    k, sessions = len(target.assessed_at_h) - 1, len(target.arm.treatment[0].days)  # type: ignore[union-attr]
    first = lambda x: x * k * stats.norm.pdf(x) * stats.norm.cdf(x) ** (k - 1)  # noqa: E731
    second = lambda x: x**2 * k * stats.norm.pdf(x) * stats.norm.cdf(x) ** (k - 1)  # noqa: E731
    m = float(integrate.quad(first, -12, 12)[0])
    v = float(integrate.quad(second, -12, 12)[0]) - m**2
    params = PARAMS.replace({"sbp_reading_sd_mmhg": sigma, "dbp_reading_sd_mmhg": sigma})
    got, _ = predict(target, Evaluator(n=n, params=params))
    assert got is not None and abs(got - sigma * m) < 4.0 * sigma * math.sqrt((v + 1.0) / (n * sessions))


def test_the_average_over_sessions_is_at_most_the_largest_and_both_are_one_sessions_mean_peak() -> None:
    """The same per-session means, reduced two ways: their average never exceeds their largest,
    and over a single dosing day both equal the mean patient peak (statistic patient_peak)."""
    from ketasim.regimens import KetamineSessions as Sessions
    from ketasim.trials.targets import load_targets
    from ketasim.trials.validation import Evaluator, predict

    eight = next(t for t in load_targets() if t.id == "tk21-esk84-sbp")
    ev = Evaluator(n=300, params=PARAMS)
    average, _ = predict(eight, ev)
    largest, _ = predict(eight.model_copy(update={"statistic": "largest_session_mean_peak"}), ev)
    assert average is not None and largest is not None and average <= largest
    first = eight.arm.treatment[0]
    assert isinstance(first, Sessions)
    one = eight.model_copy(
        update={"arm": eight.arm.model_copy(update={"treatment": (first.model_copy(update={"days": (0.0,)}),)})}
    )
    values = [
        predict(one.model_copy(update={"statistic": s}), ev)[0]
        for s in ("average_session_mean_peak", "largest_session_mean_peak", "patient_peak")
    ]
    assert values[0] == pytest.approx(values[1], rel=1e-12) and values[1] == pytest.approx(values[2], rel=1e-12)


def test_the_largest_session_mean_peak_of_one_session_is_the_mean_patient_peak() -> None:
    """Two code paths, one quantity: over a single dosing day the largest mean maximum rise is
    the mean over patients of each patient's largest rise (statistic patient_peak), reading
    for reading."""
    from ketasim.regimens import KetamineSessions as Sessions
    from ketasim.trials.targets import load_targets
    from ketasim.trials.validation import Evaluator, predict

    eight = next(t for t in load_targets() if t.id == "bp6-esk-sbp")
    first = eight.arm.treatment[0]
    assert isinstance(first, Sessions)
    one_day = eight.arm.model_copy(update={"treatment": (first.model_copy(update={"days": (0.0,)}),)})
    one = eight.model_copy(update={"arm": one_day})
    ev = Evaluator(n=300, params=PARAMS)
    largest, _ = predict(one, ev)
    mean_peak, _ = predict(one.model_copy(update={"statistic": "patient_peak"}), ev)
    assert largest is not None and mean_peak is not None
    assert largest == pytest.approx(mean_peak, rel=1e-12)


def _log_drug_term(treatment: list[TreatmentItem], p: ParameterSet, t_h: float) -> float:
    """The typical patient's drug term −log(remaining) minus the same course's placebo-only
    value (the drug term is g_d·E_max·D/(D_50 + D))."""
    cov = Covariates.one(70.0)
    with_drug = simulate_course(treatment, cov, "trd", {"MADRS": 30.0}, t_h, [t_h], params=p).scales["MADRS"][0, 0]
    days = tuple(sorted({d for item in treatment for d in getattr(item, "days", ())}))
    placebo = [PlaceboSessions(placebo="saline", days=days)]
    alone = simulate_course(placebo, cov, "trd", {"MADRS": 30.0}, t_h, [t_h], params=p).scales["MADRS"][0, 0]
    return float(np.log(alone / with_drug))


@settings(max_examples=6, deadline=None)
@given(gain=st.floats(0.2, 3.0))
def test_esketamine_gain_scales_the_esketamine_drug_term_only(gain: float) -> None:
    """``esketamine_drug_gain`` multiplies esketamine's drug term exactly and leaves racemic
    ketamine's untouched; a course of both drugs lies between (weighted by exposure)."""
    esk = [KetamineSessions(drug="esketamine", route="intranasal", dose_mg=56, days=(0,))]
    rac = [KetamineSessions(dose_mg_per_kg=0.5, duration_min=40, days=(0,))]
    both = [*esk, KetamineSessions(dose_mg_per_kg=0.5, duration_min=40, days=(0,), hour_of_day=15.0)]
    p1, pg = PARAMS.replace({"esketamine_drug_gain": 1.0}), PARAMS.replace({"esketamine_drug_gain": gain})
    assert _log_drug_term(esk, pg, 24.0) == pytest.approx(gain * _log_drug_term(esk, p1, 24.0), rel=1e-9)
    assert _log_drug_term(rac, pg, 24.0) == pytest.approx(_log_drug_term(rac, p1, 24.0), rel=1e-12)
    mixed = _log_drug_term(both, pg, 30.0) / _log_drug_term(both, p1, 30.0)
    assert min(1.0, gain) - 1e-9 <= mixed <= max(1.0, gain) + 1e-9


@settings(max_examples=10, deadline=None)
@given(gain=st.floats(0.2, 1.5), seed=st.integers(0, 10_000))
def test_age_over_65_scales_every_response_by_the_gain_per_decade(gain: float, seed: int) -> None:
    """Each patient's drug, placebo and antidepressant log-gains move by the same
    log(gain)·max(age − 65, 0)/10 (oracle written from the docstring), nothing else moves."""
    pop = sample_population(300, seed, "trd", {"MADRS": 32.0}, Demographics(age_mean=65.0, age_sd=12.0, age_max=90.0))
    base, aged = (
        pop.gains(PARAMS.replace({"older_adult_response_gain": 1.0})),
        pop.gains(PARAMS.replace({"older_adult_response_gain": gain})),
    )
    expected = np.log(gain) * np.clip(pop.covariates.age_years - 65.0, 0.0, None) / 10.0
    for name in ("eta_drug", "eta_placebo", "eta_ssri"):
        np.testing.assert_allclose(getattr(aged, name) - getattr(base, name), expected, atol=1e-12)
    np.testing.assert_array_equal(aged.eta_dissociation, base.eta_dissociation)
    ages = pop.covariates.age_years
    assert np.any(ages > 65.0) and np.any(ages < 65.0)  # both sides of the threshold are tested


def test_a_trial_of_older_adults_enrols_only_from_its_minimum_age() -> None:
    """TRANSFORM-3 enrolled patients aged 65 and over: its virtual arms do too."""
    from ketasim.trials.targets import load_targets
    from ketasim.trials.validation import Evaluator

    target = next(t for t in load_targets() if t.id == "n49")
    _, pop = Evaluator(n=300).patients(target)
    ages = pop.covariates.age_years
    assert ages.min() >= 65.0
    assert 68.0 < float(np.mean(ages)) < 76.0  # mean 70, SD 5, truncated at 65


def test_a_target_context_refuses_a_mean_age_below_its_minimum() -> None:
    from pydantic import ValidationError

    from ketasim.trials.targets import Context

    with pytest.raises(ValidationError, match="age_mean: 60 is below age_min 65"):
        Context(age_min=65.0, age_mean=60.0)
    assert Context(age_min=65.0, age_mean=70.0).age_min == 65.0


@pytest.mark.parametrize("sigma", [0.05, 0.15, 0.3])
def test_the_entry_rating_varies_like_every_later_rating(sigma: float) -> None:
    """Before any treatment the modelled severity over the recorded entry score is
    exp(−σ·z), z ~ N(0, 1) per patient: log-ratios with mean 0 and SD σ (oracle: the
    chi-square interval of a normal SD, scipy), so a change from baseline carries the entry
    rating's variance; the typical patient starts exactly at the recorded score."""
    n = 3000
    p = PARAMS.replace(residual_sd_log=sigma)
    pop = sample_population(n, 17, "trd", {"MADRS": 32.0})
    saline = [PlaceboSessions(placebo="saline", days=(1,))]
    r = simulate_course(
        saline, pop.covariates, "trd", pop.baselines, 24.0, [0.0, 12.0], params=p, pk_etas=pop.pk_etas,
        gains=pop.gains(p),
    )  # fmt: skip
    inside = (pop.baselines["MADRS"] > 1.0) & (pop.baselines["MADRS"] < 59.0)  # away from the scale's bounds
    log_ratio = np.log(r.scales["MADRS"][inside] / pop.baselines["MADRS"][inside, None])
    assert np.allclose(log_ratio[:, 0], log_ratio[:, 1])  # no treatment yet: the offset is all there is
    m = int(inside.sum())
    lo, hi = (np.sqrt((m - 1) * np.var(log_ratio[:, 0], ddof=1) / stats.chi2.ppf(q, m - 1)) for q in (0.9995, 0.0005))
    assert lo <= sigma <= hi
    assert abs(np.mean(log_ratio[:, 0])) < 4.0 * sigma / np.sqrt(m)
    typical = simulate_course(saline, Covariates.one(70.0), "trd", {"MADRS": [32.0]}, 24.0, [0.0], params=p)
    assert typical.scales["MADRS"][0, 0] == 32.0
