"""Empirical comparators (ECT, antipsychotic augmentation, antidepressant switch): the derived
parameters reproduce their anchors, checked against an independent Monte Carlo of the same
rating process and against the full batched model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketasim.io.data import read_packaged_yaml
from ketasim.model import expose, outcomes
from ketasim.params import default_parameters
from ketasim.pd.comparators import ComparatorSchedule, derive, p_remission, p_response, time_course
from ketasim.pd.symptoms import observe
from ketasim.population import sample_population
from ketasim.regimens import AntidepressantSwitch, AntipsychoticAugmentation, EctCourse

PARAMS = default_parameters()
SIGMA = PARAMS["residual_sd_log"]
OMEGA = PARAMS["ssri_gain_omega"]


def _monte_carlo(
    effect: float, omega: float, z: float, baseline: float, at_most: float, n: int = 400_000
) -> tuple[float, float]:
    """Response and remission fractions by sampling patients, recorded baselines, the entry
    rating's offset and the visit's rater noise."""
    rng = np.random.default_rng(5)
    gain = np.exp(omega * rng.standard_normal(n))
    b = baseline * np.maximum(1.0 + 0.15 * rng.standard_normal(n), 1e-3)
    true_entry = b * np.exp(-SIGMA * rng.standard_normal(n))
    rated = true_entry * np.exp(-effect * gain * z + SIGMA * rng.standard_normal(n))
    return float(np.mean(rated <= 0.5 * b)), float(np.mean(rated <= at_most))


@settings(max_examples=15, deadline=None)
@given(
    effect=st.floats(0.05, 4.0),
    omega=st.floats(0.05, 2.0),
    z=st.floats(0.0, 1.0),
    baseline=st.floats(10.0, 50.0),
)
def test_quadrature_matches_monte_carlo(effect: float, omega: float, z: float, baseline: float) -> None:
    """The Gauss–Hermite probabilities used to derive the comparators equal direct sampling."""
    at_most = 0.3 * baseline
    resp, remit = _monte_carlo(effect, omega, z, baseline, at_most)
    assert p_response(effect, omega, z, SIGMA, 0.5) == pytest.approx(resp, abs=0.005)
    assert p_remission(effect, omega, z, SIGMA, baseline, at_most) == pytest.approx(remit, abs=0.005)


def test_derived_parameters_reproduce_their_anchors() -> None:
    data = read_packaged_yaml("pd/comparators.yaml")
    effects = derive(SIGMA, OMEGA)
    ect = effects["ect"]
    assert ect.anchors["response"][1] == pytest.approx(data["ect"]["anchors"]["response"]["value"], abs=0.005)
    assert ect.anchors["remission"][1] == pytest.approx(data["ect"]["anchors"]["remission"]["value"], abs=0.005)
    assert ect.anchors["relapse_6_months"][1] == pytest.approx(0.377, abs=0.005)
    for name in ("quetiapine_xr", "antidepressant_switch"):
        published, got = effects[name].anchors["remission"]
        assert got == pytest.approx(published, abs=0.002)
    # onset from the week-1 fraction: (1 − e^(−7/τ)) / (1 − e^(−42/τ)) = 0.515
    tau_days = effects["quetiapine_xr"].tau_onset_h / 24.0  # type: ignore[operator]
    assert -math.expm1(-7 / tau_days) / -math.expm1(-42 / tau_days) == pytest.approx(0.515, abs=1e-6)


def test_ect_course_in_the_full_model_reproduces_the_audit() -> None:
    """Eight ECT sessions through expose/outcomes with a rater's noise: response and
    remission as the Scottish audit (73%, 51%), within sampling error."""
    n = 6000
    pop = sample_population(n, 11, "trd", {"MADRS": 35.2})
    course = [EctCourse(sessions_per_week=3, max_sessions=8)]
    t = np.array([0.0, 16.5 * 24.0])  # after the 8th session (day 16), before any decay matters
    ex = expose(course, pop.covariates, t[-1], params=PARAMS, output_times_h=t)
    res = outcomes(ex, "trd", pop.baselines, t, params=PARAMS, gains=pop.gains(PARAMS))
    rated = observe(res.scales["MADRS"][:, 1], "MADRS", SIGMA, np.random.default_rng(3))
    base = pop.baselines["MADRS"]
    se = 0.5 / math.sqrt(n)
    assert np.mean(rated <= 0.5 * base) == pytest.approx(0.73, abs=4 * se + 0.01)
    assert np.mean(rated <= 10.0) == pytest.approx(0.51, abs=4 * se + 0.01)


def test_time_courses() -> None:
    effects = derive(SIGMA, OMEGA)
    ect = effects["ect"]
    sessions = tuple(24.0 * d for d in EctCourse(sessions_per_week=3, max_sessions=12).days)
    t = np.linspace(0.0, 24.0 * 200, 2001)
    z = time_course(ComparatorSchedule("ect", sessions), ect, t)
    assert z[0] == pytest.approx(1 / 8)  # the first session at t = 0 has been given
    during = t <= sessions[-1]
    assert np.all(np.diff(z[during]) >= -1e-3)  # accrues over the course (tiny decay between sessions)
    after = t >= sessions[-1]
    assert np.all(np.diff(z[after]) <= 0) and z[-1] < z[after][0]  # then wanes
    drug = effects["quetiapine_xr"]
    zq = time_course(ComparatorSchedule("quetiapine_xr", start_h=48.0), drug, t)
    assert np.all(zq[t <= 48.0] == 0) and np.all(np.diff(zq) >= 0) and zq[-1] < 1.0


def test_comparator_items_shape_the_course() -> None:
    """A comparator arm improves, with no ketamine exposure and no placebo sessions."""
    pop = sample_population(200, 3, "trd", {"MADRS": 32})
    t = np.array([0.0, 24.0 * 56])
    for item in (AntipsychoticAugmentation(), AntidepressantSwitch(), EctCourse()):
        ex = expose([item], pop.covariates, t[-1], params=PARAMS, output_times_h=t)
        assert not ex.sessions and not ex.drugs and len(ex.comparators) == 1
        res = outcomes(ex, "trd", pop.baselines, t, params=PARAMS, gains=pop.gains(PARAMS))
        assert np.all(res.scales["MADRS"][:, 1] <= res.scales["MADRS"][:, 0] + 1e-12)
        assert np.mean(res.scales["MADRS"][:, 1]) < 31.0
