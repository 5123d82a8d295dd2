"""Statistics over sessions (Doherty 2020's largest mean maximum rise, Takahashi 2021's
average): the estimate against pandas, the bootstrap interval's coverage and the test's size
against simulation, and the trial engine's session-level blood pressure from the outside."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ketasim.trials.design import parse_design
from ketasim.trials.statistics import OverSessions, compare_session_statistics, session_statistic
from ketasim.trials.trial import run_trial


def _pandas_statistic(rises: np.ndarray, over: OverSessions) -> float:
    """Independent: a long table of attended sessions, grouped by session."""
    patient, session = np.nonzero(np.isfinite(rises))
    long = pd.DataFrame({"session": session, "rise": rises[patient, session]})
    means = long.groupby("session")["rise"].mean()
    return float(means.max() if over == "largest" else means.mean())


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(3, 30), st.integers(1, 6)), elements=st.floats(-30, 60)),
    arrays(np.bool_, st.tuples(st.just(30), st.just(6))),
    st.sampled_from(["largest", "average"]),
)
def test_the_estimate_is_the_largest_or_average_of_the_session_means(
    values: np.ndarray, missed: np.ndarray, over: OverSessions
) -> None:
    rises = values.copy()
    rises[missed[: rises.shape[0], : rises.shape[1]]] = np.nan
    rises[0] = values[0]  # a patient who attended everything: every session has a mean
    rises[1] = values[1]
    est = session_statistic(rises, over, seed=1)
    assert math.isclose(est.value, _pandas_statistic(rises, over), rel_tol=1e-9, abs_tol=1e-9)
    assert est.ci95[0] <= est.ci95[1]


@pytest.mark.parametrize(
    ("session_means", "coverage"),
    [
        ([0.0, 10.0, 2.0], (0.89, 0.99)),  # one session dominates: nominal coverage (binomial 99.9% range)
        ([10.0] * 8, (0.70, 1.0)),  # eight equal sessions: the largest sample mean is biased upwards
    ],
)
def test_the_interval_covers_the_true_largest_session_mean(
    session_means: list[float], coverage: tuple[float, float]
) -> None:
    """Simulation oracle: the true value is the largest of the sessions' true means (10); over
    200 simulated arms of 150 patients (SD 8, 10% of sessions missed) the interval must cover it
    about 95% of the time where one session dominates, and still mostly where eight sessions
    tie, which the percentile and BCa intervals do not (about 4% and 33%: they repeat the
    upward bias of a largest mean)."""
    rng = np.random.default_rng(7)
    covered = 0
    for k in range(200):
        rises = rng.normal(session_means, 8.0, size=(150, len(session_means)))
        rises[rng.random(rises.shape) < 0.1] = np.nan
        lo, hi = session_statistic(rises, "largest", seed=k).ci95
        covered += lo <= 10.0 <= hi
    assert coverage[0] <= covered / 200 <= coverage[1]


@pytest.mark.parametrize("paired", [False, True])
def test_the_difference_test_has_its_nominal_size_and_power(paired: bool) -> None:
    """Under no difference about 5% of tests reject at 0.05 (binomial 99.9% range for 200
    draws: 0.01-0.11); a 4 mmHg difference at 150 patients per arm (SD 8) is found nearly always."""
    rng = np.random.default_rng(11)
    size_rejections = power_rejections = 0
    for k in range(200):
        control = rng.normal(5.0, 8.0, size=(150, 4))
        arm = rng.normal(5.0, 8.0, size=(150, 4))
        if paired:  # a crossover: each patient's two periods are correlated
            arm = 5.0 + 0.5 * (control - 5.0) + math.sqrt(0.75) * (arm - 5.0)
        size_rejections += compare_session_statistics(arm, control, "average", paired=paired, seed=k).p_value < 0.05
        shifted = compare_session_statistics(arm + 4.0, control, "average", paired=paired, seed=k)
        power_rejections += shifted.p_value < 0.05
        assert shifted.ci95[0] <= shifted.difference <= shifted.ci95[1]
    assert 0.01 <= size_rejections / 200 <= 0.11
    assert power_rejections / 200 >= 0.95


def test_without_sessions_or_patients_nothing_is_estimated() -> None:
    assert math.isnan(session_statistic(np.zeros((10, 0)), "largest", seed=0).value)
    assert math.isnan(session_statistic(np.full((10, 3), np.nan), "average", seed=0).value)
    one = np.full((10, 3), np.nan)
    one[0] = 5.0
    assert math.isnan(session_statistic(one, "average", seed=0).value)
    diff = compare_session_statistics(np.ones((5, 2)), np.ones((6, 2)), "largest", paired=True, seed=0)
    assert math.isnan(diff.difference)


def _bp_design(**changes: Any) -> dict[str, Any]:
    design: dict[str, Any] = {
        "name": "session BP",
        "condition": "trd",
        "scale": "MADRS",
        "n_per_arm": 120,
        "population": {"baseline_mean": 33},
        "dropout_fraction": 0.0,
        "dropout_model": "fixed",
        "arms": {
            "ketamine": {"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 0.5, "days": [0, 3, 7, 10]}]},
            "saline": {"treatment": [{"kind": "placebo", "placebo": "saline", "days": [0, 3, 7, 10]}]},
            "oral": {"treatment": [{"kind": "oral_antidepressant", "start_day": 0, "newly_started": True}]},
        },
        "control": "saline",
        "assessment_days": [0, 1, 11],
        "endpoints": [
            {"type": "vital_sign", "measure": m}
            for m in (
                "sbp_largest_session_mean_rise_mmhg",
                "dbp_average_session_mean_rise_mmhg",
                "sbp_peak_rise_mmhg",
            )
        ],
    }
    design.update(changes)
    return design


def test_a_trial_reports_the_statistics_over_sessions_from_its_recorded_rises() -> None:
    """From the outside: the arm's value is the statistic of the engine's per-session rises;
    the largest session mean is at most the mean of each patient's largest rise; ketamine
    raises it over saline; an arm without clinic sessions has none."""
    from ketasim.params import default_parameters
    from ketasim.trials.endpoints import gather, summarise
    from ketasim.trials.run import simulate_chunk

    design = parse_design(_bp_design())
    chunks = [simulate_chunk(design, arm, 0, 0, 120, default_parameters()) for arm in design.arms]
    summary = summarise(design, chunks, 1)
    data = gather(design, chunks, 0)
    for arm in ("ketamine", "saline"):
        e = summary.arms[arm].endpoints
        rises = data[arm].vitals["sbp_session_rise_mmhg"]
        assert rises.shape == (120, 4)
        largest = e["sbp_largest_session_mean_rise_mmhg"]
        assert largest.value == pytest.approx(_pandas_statistic(rises, "largest"), abs=1e-5)
        assert largest.value <= e["sbp_peak_rise_mmhg"].value + 1e-9
        dbp = data[arm].vitals["dbp_session_rise_mmhg"]
        assert e["dbp_average_session_mean_rise_mmhg"].value == pytest.approx(
            _pandas_statistic(dbp, "average"), abs=1e-5
        )
    assert summary.arms["oral"].endpoints["sbp_largest_session_mean_rise_mmhg"].value is None
    c = summary.comparisons["sbp_largest_session_mean_rise_mmhg: ketamine vs saline"]
    assert c.difference is not None and c.difference > 0 and c.p_value is not None
    # the same from `ketasim trial`'s entry (float32 rows kept for the endpoints)
    same = run_trial(design).summary.arms["ketamine"].endpoints["sbp_largest_session_mean_rise_mmhg"].value
    assert same == pytest.approx(
        summary.arms["ketamine"].endpoints["sbp_largest_session_mean_rise_mmhg"].value, abs=1e-3
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"chunk": 5}, "chunk"),
        ({"chunk": -1}, "chunk"),
        ({"size": 0}, "size"),
        ({"arm": "nobody"}, "arm"),
        ({"replicate": -1}, "replicate"),
        ({"chunk": True}, "chunk"),
        ({"size": 2.5}, "size"),
    ],
)
def test_a_chunk_outside_the_arm_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    """The Python entry of one chunk validates before it computes (a chunk past the arm's
    patients used to fail inside the solver with 'negative dimensions')."""
    from ketasim.errors import TrialError
    from ketasim.params import default_parameters
    from ketasim.trials.run import simulate_chunk

    design = parse_design(_bp_design(n_per_arm=100))
    args: dict[str, Any] = {"arm": "ketamine", "replicate": 0, "chunk": 0, "size": 50, **changes}
    with pytest.raises(TrialError) as info:
        simulate_chunk(design, params=default_parameters(), **args)
    assert field in str(info.value)
