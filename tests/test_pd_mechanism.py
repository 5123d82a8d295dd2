"""Invariants of the mechanism: receptor, cascade, symptoms and side effects."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad, solve_ivp

from ketasim.covariates import Covariates
from ketasim.model import simulate_course
from ketasim.params import default_parameters
from ketasim.pd._filters import _MERGE_H, _moments, first_order, sampler
from ketasim.pd.adverse import AdverseParameters, dissociative_drive
from ketasim.pd.cascade import CascadeParameters, run_cascade, standard_infusion_occupancy
from ketasim.pd.receptor import affinities_um, nmda_occupancy
from ketasim.regimens import KetamineSessions, OralAntidepressant, PlaceboSessions

ONE = Covariates.one()
PARAMS = default_parameters()
KI = affinities_um(PARAMS)


def _course(treatment: list, days: float = 21, baseline: float = 32.0, condition: str = "trd"):  # type: ignore[no-untyped-def]
    return simulate_course(
        treatment, ONE, condition, {"MADRS": [baseline]}, 24.0 * days, np.arange(0, 24.0 * days, 0.25)
    )


@given(
    conc=st.lists(st.floats(0, 50), min_size=4, max_size=4),
    extra=st.floats(0.001, 50),
    which=st.integers(0, 3),
)
def test_more_drug_never_less_occupancy(conc: list[float], extra: float, which: int) -> None:
    names = ["s_ketamine", "r_ketamine", "s_norketamine", "r_norketamine"]
    base = {n: np.array(c) for n, c in zip(names, conc, strict=True)}
    more = dict(base)
    more[names[which]] = base[names[which]] + extra
    assert nmda_occupancy(more, KI) >= nmda_occupancy(base, KI)
    assert 0.0 <= float(nmda_occupancy(base, KI)) < 1.0


@settings(max_examples=15, deadline=None)
@given(low=st.floats(0.1, 1.0), extra=st.floats(0.05, 1.0), weight=st.floats(40, 150))
def test_more_dose_never_less_occupancy_end_to_end(low: float, extra: float, weight: float) -> None:
    cov = Covariates.one(weight_kg=weight)
    a = simulate_course([KetamineSessions(dose_mg_per_kg=low, days=(0,))], cov, "trd", {"MADRS": [30]}, 24)
    b = simulate_course([KetamineSessions(dose_mg_per_kg=low + extra, days=(0,))], cov, "trd", {"MADRS": [30]}, 24)
    assert np.all(b.states["nmda_occupancy"] >= a.states["nmda_occupancy"] - 1e-12)


def test_no_drug_keeps_cascade_at_baseline() -> None:
    r = _course([PlaceboSessions(placebo="saline", days=(0, 3))])
    for name, values in r.states.items():
        if name == "inflammation_modifier":
            continue
        assert np.all(values == 0.0), name


def test_nothing_given_changes_nothing() -> None:
    r = _course([OralAntidepressant(start_day=0, newly_started=False)])
    assert np.allclose(r.scales["MADRS"], 32.0)
    assert np.allclose(r.adverse["cadss"], 0.0)
    assert np.allclose(r.adverse["sbp_mmhg"], 120.0)


def _drug_effect(days: float = 21) -> tuple[np.ndarray, np.ndarray]:
    """MADRS benefit of one infusion over a saline session (same expectancy)."""
    drug = _course([KetamineSessions(dose_mg_per_kg=0.5, days=(0,))], days)
    saline = _course([PlaceboSessions(placebo="saline", days=(0,))], days)
    return drug.times_h - 9.0, saline.scales["MADRS"][0] - drug.scales["MADRS"][0]


def test_single_infusion_benefit_peaks_near_day_1_and_fades_in_two_weeks() -> None:
    t, benefit = _drug_effect()
    peak_h = t[int(np.argmax(benefit))]
    assert 2.0 <= peak_h <= 72.0, peak_h  # around day 1 (Kishimoto 2016: peak day 1)
    day14 = benefit[int(np.argmin(np.abs(t - 14 * 24)))]
    assert day14 < 0.35 * benefit.max()  # largely lost by days 10-14 (Kishimoto: days 10-12)
    assert benefit[int(np.argmin(np.abs(t - 4)))] > 0.3 * benefit.max()  # visible within hours


def test_ssri_benefit_builds_over_weeks() -> None:
    r = _course([OralAntidepressant(start_day=0)], days=56)
    madrs = r.scales["MADRS"][0]
    week = lambda w: madrs[int(np.argmin(np.abs(r.times_h - 24 * 7 * w)))]  # noqa: E731
    assert np.all(np.diff(madrs) <= 1e-9)  # never worsens
    improvement = [32 - week(w) for w in (1, 2, 4, 6)]
    assert improvement[0] < 0.5 * improvement[3]  # most of the benefit comes after week 1
    assert improvement == sorted(improvement)


def test_dissociation_resolves_within_two_hours_of_infusion_end() -> None:
    r = _course([KetamineSessions(dose_mg_per_kg=0.5, days=(0,))], days=1)
    t = r.times_h - 9.0  # infusion 0-40 min
    cadss = r.adverse["cadss"][0]
    assert cadss.max() > 4.0  # there is dissociation during the infusion
    assert np.all(cadss[t >= 40 / 60 + 2.0] < 4.0)


@settings(max_examples=25, deadline=None)
@given(
    level=st.floats(0.05, 0.95),
    rise_h=st.floats(0.1, 1.0),
    fraction=st.floats(0.0, 1.0),
    tau_min=st.floats(1.0, 240.0),
)
def test_dissociative_drive_matches_an_ode_solver(level: float, rise_h: float, fraction: float, tau_min: float) -> None:
    """D = max(O − γ·X, 0), dX/dt = (O − X)/τ_acute, against scipy's solve_ivp for a smooth
    occupancy curve that rises and falls; D never exceeds the occupancy."""
    p = replace(AdverseParameters.from_params(PARAMS), tau_acute_h=tau_min / 60.0, acute_fraction=fraction)

    def occ(t: np.ndarray) -> np.ndarray:
        return level * (1.0 - np.exp(-t / rise_h)) * np.exp(-t / 3.0)

    t = np.linspace(0.0, 8.0, 2001)
    drive = dissociative_drive(occ(t)[None, :], t, p)[0]
    x = solve_ivp(lambda s, y: (occ(s) - y) / p.tau_acute_h, (0.0, 8.0), [0.0], t_eval=t, rtol=1e-10, atol=1e-13).y[0]
    exact = np.maximum(occ(t) - fraction * x, 0.0)
    np.testing.assert_allclose(drive, exact, atol=1e-4 * level)  # the batched solver's accuracy (1e-4 of the peak)
    assert np.all((drive >= 0.0) & (drive <= occ(t) + 1e-12))


def test_without_acute_adaptation_dissociation_follows_occupancy() -> None:
    p = replace(AdverseParameters.from_params(PARAMS), acute_fraction=0.0)
    t = np.linspace(0.0, 3.0, 200)
    occupancy = np.sin(np.pi * t / 3.0)[None, :] * 0.4
    np.testing.assert_array_equal(dissociative_drive(occupancy, t, p), occupancy)


@settings(max_examples=6, deadline=None)
@given(slower_min=st.floats(60.0, 120.0))
def test_a_slower_infusion_of_the_same_dose_dissociates_less(slower_min: float) -> None:
    """The adaptation's prediction: dissociation follows the rise of occupancy, so spreading
    the same 0.5 mg/kg over longer lowers the peak CADSS."""
    peaks = [
        _course([KetamineSessions(dose_mg_per_kg=0.5, duration_min=d, days=(0,))], days=1).adverse["cadss"][0].max()
        for d in (40.0, slower_min)
    ]
    assert peaks[1] < peaks[0]


def test_blood_pressure_peaks_near_40_minutes_and_resolves() -> None:
    r = _course([KetamineSessions(dose_mg_per_kg=0.5, days=(0,))], days=1)
    t = r.times_h - 9.0
    sbp = r.adverse["sbp_mmhg"][0]
    assert 0.4 <= t[int(np.argmax(sbp))] <= 1.0
    assert sbp[np.argmin(np.abs(t - 6.0))] - 120.0 < 0.25 * (sbp.max() - 120.0)


def test_glutamate_peaks_26_minutes_into_the_infusion() -> None:
    """Milak 2016: Glx peak ≈26 min into a 0.5 mg/kg 40-min infusion (calibrated, ±5 min)."""
    t = np.arange(0.0, 3.0, 15 / 3600)
    states = run_cascade(standard_infusion_occupancy(t, KI)[None, :], t, CascadeParameters.from_params(PARAMS))
    peak_min = t[np.argmax(states["glutamate"][0])] * 60
    assert abs(peak_min - 26.0) <= 1.0
    assert states["glutamate"].max() == pytest.approx(0.378, rel=1e-4)  # 1 on the solver grid; 15-s grid here


def test_repeated_sessions_lessen_dissociation() -> None:
    r = _course([KetamineSessions(dose_mg_per_kg=0.5, days=tuple(range(0, 28, 3)))], days=28)
    firsts = [r.adverse["cadss"][0][(r.times_h >= 24 * d + 9) & (r.times_h <= 24 * d + 11)].max() for d in (0, 27)]
    assert firsts[1] < firsts[0]


@settings(max_examples=30, deadline=None)
@given(
    tau_h=st.floats(0.01, 500),
    coef=st.tuples(st.floats(-1, 1), st.floats(-2, 2), st.floats(-0.5, 0.5)),
    x0=st.floats(-1, 1),
    seed=st.integers(0, 2**16),
)
def test_first_order_filter_is_exact_for_quadratic_input_on_any_grid(
    tau_h: float, coef: tuple[float, float, float], x0: float, seed: int
) -> None:
    """The second-order hold is exact when the input is quadratic, whatever the step sizes
    (the first step, a first-order hold, is made negligibly short: the closest two nodes
    ketasim's grids keep, ``_MERGE_H``; closer nodes make the quadratic through them
    ill-conditioned, a 1e-9 h first step gave a 1e-7 error next to a 1.06 h step)."""
    rng = np.random.default_rng(seed)
    first = _MERGE_H
    t = np.concatenate([[0.0, first], first + np.cumsum(rng.uniform(1e-4, 2.0, 40))])
    c0, c1, c2 = coef
    u = c0 + c1 * t + c2 * t**2
    x = first_order(u[None, :], tau_h, t, x0=np.array([x0]))
    ref = solve_ivp(
        lambda tt, y: (c0 + c1 * tt + c2 * tt**2 - y) / tau_h, (0, t[-1]), [x0], t_eval=t, rtol=1e-11, atol=1e-12
    )
    assert np.max(np.abs(x[0] - ref.y[0])) <= 1e-7 * max(1.0, float(np.max(np.abs(ref.y[0]))))


@settings(max_examples=60, deadline=None)
@given(x=st.one_of(st.floats(1e-9, 0.5), st.floats(0.5, 200.0)))
def test_hold_moments_equal_their_integrals(x: float) -> None:
    """W_m(x) = x ∫₀¹ e^{−x(1−σ)} σ^m dσ, on both sides of the switch from series to closed
    form (x = 0.25), against adaptive quadrature."""
    got = _moments(x, float(np.exp(-x)))
    for m in range(3):
        ref = x * quad(lambda s, m=m: np.exp(-x * (1.0 - s)) * s**m, 0.0, 1.0, epsabs=0.0, epsrel=1e-13)[0]
        assert abs(got[m] - ref) <= 1e-11 * abs(ref) + 1e-300


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), n_times=st.integers(1, 30), n=st.integers(3, 140))
def test_sampler_interpolates_linearly_and_a_filter_sampled_in_its_sweep_agrees(
    seed: int, n_times: int, n: int
) -> None:
    """One sampler serves every state on a grid: equal to NumPy's ``interp`` per patient, and
    to the node's value at a node; the sampled sweep (blocks of patients) equals the full one."""
    rng = np.random.default_rng(seed)
    grid = np.concatenate([[0.0], np.cumsum(rng.uniform(1e-3, 2.0, 50))])
    x = rng.normal(size=(n, grid.size))
    times = np.concatenate([rng.uniform(-1.0, grid[-1] + 1.0, n_times), grid[rng.integers(0, grid.size, 3)]])
    got = sampler(grid, times)(x)
    for p in range(3):
        assert np.allclose(got[p], np.interp(times, grid, x[p]), rtol=0.0, atol=1e-12)
    # a filter sampled inside its sweep gives what the full grid gives, sampled
    tau_h = float(rng.uniform(0.05, 50.0))
    x0 = rng.normal(size=n)
    full = sampler(grid, times)(first_order(x, tau_h, grid, x0=x0))
    assert np.array_equal(first_order(x, tau_h, grid, x0=x0, at=sampler(grid, times)), full)


def test_a_condition_gain_changes_that_condition_only() -> None:
    """Conditions are parameter sets of one mechanism: raising PTSD's drug gain (a new
    ParameterSet) deepens the PTSD response and leaves TRD, and the packaged set, as they were."""
    session = [KetamineSessions(dose_mg_per_kg=0.5, days=(0,))]
    stronger = PARAMS.replace(condition_ptsd_drug_gain=2.0 * PARAMS["condition_ptsd_drug_gain"])

    def at_day_1(condition: str, baseline: dict[str, list[float]], params: object) -> float:
        r = simulate_course(session, ONE, condition, baseline, 48, [33.0], params=params)  # type: ignore[arg-type]
        return float(next(iter(r.scales.values()))[0, 0])

    ptsd, trd = {"CAPS-5": [40.0]}, {"MADRS": [30.0]}
    assert at_day_1("ptsd", ptsd, stronger) < at_day_1("ptsd", ptsd, PARAMS) - 0.5
    assert at_day_1("trd", trd, stronger) == at_day_1("trd", trd, PARAMS)
    assert at_day_1("ptsd", ptsd, None) == at_day_1("ptsd", ptsd, PARAMS)  # default = packaged, unchanged


def test_exposure_flags_for_frequent_long_use() -> None:
    days = tuple(float(d) for d in range(0, 120, 2))
    r = simulate_course([KetamineSessions(route="oral", dose_mg=100, days=days)], ONE, "trd", {"PHQ-9": [18]}, 24 * 121)
    kinds = {f.flag for f in r.flags}
    assert kinds == {"abuse_misuse_risk", "bladder_toxicity_risk"}
    assert all(f.source for f in r.flags)
    r2 = _course([KetamineSessions(dose_mg_per_kg=0.5, days=(0, 7))])
    assert r2.flags == []
