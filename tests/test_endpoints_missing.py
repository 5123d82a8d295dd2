"""Missing data in trial endpoints: LOCF after dropout and censoring at the last attended
assessment, checked against expectations worked out by hand on a few patients.

The chunks are written by hand (no simulation).  MADRS: response is a score at or below
half the baseline; assessments on days 0, 1, 7, 14 and 21 (indices 0–4).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from scipy import stats

from ketasim.trials.design import Endpoint, TrialDesign, parse_design
from ketasim.trials.endpoints import (
    _km,
    _relapse,
    _time_to_response,
    arm_endpoint,
    compare,
    gather,
    summarise,
)
from ketasim.trials.run import ChunkResult
from ketasim.trials.statistics import Z95, kaplan_meier, log_rank, mean_ci, wilson

NAN = math.nan
DAYS = [0, 1, 7, 14, 21]

# ketamine arm, 7 patients: (baseline, scores on DAYS); NaN after dropout
KETAMINE = [
    (30.0, [30, 14, 12, 20, 22]),  # P0 responds day 1; still responding day 7, lost day 14
    (30.0, [30, 25, 15, NAN, NAN]),  # P1 responds day 7 (15 = half of 30), drops out after day 7
    (30.0, [30, 28, NAN, NAN, NAN]),  # P2 never responds, drops out after day 1
    (24.0, [24, 14, 10, 8, 9]),  # P3 baseline 24 (threshold 12): day 1 is no response, day 7 is
    (30.0, [10, 29, 27, 24, 16]),  # P4 day-0 score would be a "response" but day 0 never counts
    (30.0, [30, 12, NAN, NAN, NAN]),  # P5 responds day 1, drops out after day 1
    (30.0, [30, 20, 14, 14, 25]),  # P6 responds day 7, lost day 21
]
# placebo arm, 4 patients
PLACEBO = [
    (30.0, [30, 28, 26, 25, 24]),  # C0 never responds, completes
    (30.0, [30, 20, 14, 16, 18]),  # C1 responds day 7, lost day 14
    (30.0, [30, 26, NAN, NAN, NAN]),  # C2 drops out after day 1
    (30.0, [30, 22, 20, 15, 14]),  # C3 responds day 14
]


def design(**changes: Any) -> TrialDesign:
    data: dict[str, Any] = {
        "name": "hand-made trial",
        "condition": "trd",
        "scale": "MADRS",
        "n_per_arm": 7,
        "arms": {
            "ketamine": {"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 0.5, "days": [0, 7]}]},
            "placebo": {"treatment": [{"kind": "placebo", "placebo": "saline", "days": [0, 7]}]},
        },
        "control": "placebo",
        "assessment_days": DAYS,
        "endpoints": [
            {"type": "mean_change", "day": 14},
            {"type": "response", "day": 14},
            {"type": "time_to_response"},
            {"type": "relapse", "responders_at_day": 7},
            {"type": "sustained_response", "from_day": 7, "to_day": 21},
            {"type": "adverse_event", "event": "nausea"},
        ],
    }
    data.update(changes)
    return parse_design(data)


def chunk(
    arm: str, rows: list[tuple[float, list[float]]], *, index: int = 0, first: int = 0, replicate: int = 0
) -> ChunkResult:
    """A chunk as the simulator returns it: NaN scores after dropout."""
    scores = np.array([r[1] for r in rows], dtype=np.float64)
    n = scores.shape[0]
    dropout = np.array(
        [DAYS[int(np.flatnonzero(np.isfinite(s))[-1])] + 0.5 if np.isnan(s).any() else np.inf for s in scores]
    )
    return ChunkResult(
        arm=arm,
        replicate=replicate,
        chunk=index,
        patient=np.arange(first, first + n, dtype=np.int64),
        baseline=np.array([r[0] for r in rows], dtype=np.float64),
        scores=scores,
        dropout_day=dropout,
        dropout_reason=np.where(np.isfinite(dropout), 1, 0).astype(np.int8),
        sessions_before=np.zeros(scores.shape, dtype=np.float32),
        events={"nausea": np.arange(n) % 3 == 0},
        vitals={k: np.zeros(n) for k in ("sbp_peak_rise_mmhg", "dbp_peak_rise_mmhg", "sbp_peak_mmhg", "dbp_peak_mmhg")},
        covariates={"weight_kg": np.full(n, 70.0)},
    )


def results(replicate: int = 0) -> list[ChunkResult]:
    # ketamine in two chunks, listed out of order: gather must sort them by chunk
    return [
        chunk("ketamine", KETAMINE[4:], index=1, first=4, replicate=replicate),
        chunk("placebo", PLACEBO, replicate=replicate),
        chunk("ketamine", KETAMINE[:4], index=0, first=0, replicate=replicate),
    ]


@pytest.fixture(scope="module")
def trial() -> TrialDesign:
    return design()


def endpoint(d: TrialDesign, kind: str) -> Endpoint:
    return next(e for e in d.endpoints if e.type == kind)


# --------------------------------------------------------------------------- gather: LOCF


def test_gather_carries_last_observation_forward(trial: TrialDesign) -> None:
    data = gather(trial, results(), 0)
    k = data["ketamine"]
    np.testing.assert_array_equal(k.patient, np.arange(7))
    np.testing.assert_array_equal(k.baseline, [30, 30, 30, 24, 30, 30, 30])
    np.testing.assert_array_equal(
        k.scores,
        [
            [30, 14, 12, 20, 22],
            [30, 25, 15, 15, 15],
            [30, 28, 28, 28, 28],
            [24, 14, 10, 8, 9],
            [10, 29, 27, 24, 16],
            [30, 12, 12, 12, 12],
            [30, 20, 14, 14, 25],
        ],
    )
    np.testing.assert_array_equal(k.last_seen, [4, 2, 1, 4, 4, 1, 4])
    np.testing.assert_array_equal(k.events["nausea"], [True, False, False, True, True, False, False])
    p = data["placebo"]
    np.testing.assert_array_equal(p.scores[2], [30, 26, 26, 26, 26])
    np.testing.assert_array_equal(p.last_seen, [4, 4, 1, 4])
    assert not np.isnan(k.scores).any()


def test_gather_ignores_other_replicates_and_fills_intermittent_gaps(trial: TrialDesign) -> None:
    other = [chunk("ketamine", [(30.0, [1, 1, 1, 1, 1])], replicate=1), chunk("placebo", PLACEBO, replicate=1)]
    gap = [(30.0, [30, NAN, 14, NAN, NAN]), (30.0, [30, 20, NAN, 10, NAN])]
    data = gather(trial, [*other, chunk("ketamine", gap), chunk("placebo", PLACEBO)], 0)
    np.testing.assert_array_equal(data["ketamine"].scores, [[30, 30, 14, 14, 14], [30, 20, 20, 10, 10]])
    np.testing.assert_array_equal(data["ketamine"].last_seen, [2, 3])


def test_mean_change_uses_the_carried_score(trial: TrialDesign) -> None:
    data = gather(trial, results(), 0)
    # day 14: 20, 15 (LOCF), 28 (LOCF), 8, 24, 12 (LOCF), 14 minus baselines
    change = np.array([20 - 30, 15 - 30, 28 - 30, 8 - 24, 24 - 30, 12 - 30, 14 - 30], float)
    assert change.sum() == -83
    got = arm_endpoint(trial, endpoint(trial, "mean_change"), data["ketamine"])
    lo, hi = stats.t.interval(0.95, 6, loc=-83 / 7, scale=stats.sem(change))
    assert got.value == pytest.approx(-83 / 7, abs=1e-6)
    assert got.sd == pytest.approx(np.std(change, ddof=1), abs=1e-6)
    assert got.ci95 == pytest.approx((lo, hi), abs=1e-6)
    # arm minus control (Welch); placebo changes at day 14: -5, -14, -4 (LOCF), -15
    placebo = np.array([-5.0, -14.0, -4.0, -15.0])
    c = compare(trial, endpoint(trial, "mean_change"), data["ketamine"], data["placebo"])
    ref = stats.ttest_ind(change, placebo, equal_var=False)
    assert c.difference == pytest.approx(-83 / 7 + 38 / 4, abs=1e-12)
    assert c.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_binary_endpoints_after_locf(trial: TrialDesign) -> None:
    data = gather(trial, results(), 0)
    k = data["ketamine"]
    # response at day 14: P1 (15 carried), P3 (8 <= 12), P5 (12 carried), P6 (14) -> 4/7
    got = arm_endpoint(trial, endpoint(trial, "response"), k)
    assert got.value == pytest.approx(4 / 7, abs=1e-6)
    assert got.ci95 == pytest.approx(wilson(4, 7).ci95, abs=1e-6)
    # sustained response days 7–21: P1 and P5 by LOCF, P3 observed -> 3/7 (P0 lost at 14, P6 at 21)
    sustained = arm_endpoint(trial, endpoint(trial, "sustained_response"), k)
    assert sustained.value == pytest.approx(3 / 7, abs=1e-6)
    # placebo response at day 14: C3 (15) only -> 1/4; difference and Newcombe interval
    c = compare(trial, endpoint(trial, "response"), k, data["placebo"])
    assert c.difference == pytest.approx(4 / 7 - 1 / 4, abs=1e-12)
    # adverse events are per patient, whatever the dropout: P0, P3, P4 of 7
    nausea = arm_endpoint(trial, endpoint(trial, "adverse_event"), k)
    assert nausea.value == pytest.approx(3 / 7, abs=1e-6)


# --------------------------------------------------------------------------- time to response


def test_time_to_response_censors_at_last_attended_assessment(trial: TrialDesign) -> None:
    data = gather(trial, results(), 0)
    t, hit = _time_to_response(trial, data["ketamine"])
    # P2 is censored at day 1 (its last visit), not day 21; P4's day-0 score does not count
    np.testing.assert_array_equal(t, [1, 7, 1, 7, 21, 1, 7])
    np.testing.assert_array_equal(hit, [True, True, False, True, False, True, True])
    t, hit = _time_to_response(trial, data["placebo"])
    np.testing.assert_array_equal(t, [21, 7, 1, 14])
    np.testing.assert_array_equal(hit, [False, True, False, True])


def test_a_carried_score_is_not_an_attended_response(trial: TrialDesign) -> None:
    # seen on day 0 only, with a day-0 score that would count as a response: LOCF carries 10 to
    # every later day, but the patient attended none of them -> censored at day 0, no event
    rows = [(30.0, [10, NAN, NAN, NAN, NAN]), (30.0, [30, 14, NAN, NAN, NAN])]
    data = gather(trial, [chunk("ketamine", rows), chunk("placebo", PLACEBO)], 0)
    np.testing.assert_array_equal(data["ketamine"].last_seen, [0, 1])
    t, hit = _time_to_response(trial, data["ketamine"])
    np.testing.assert_array_equal(t, [0, 1])
    np.testing.assert_array_equal(hit, [False, True])
    km = _km(trial, endpoint(trial, "time_to_response"), data["ketamine"])
    np.testing.assert_array_equal(km.at_risk, [1, 0, 0, 0])
    np.testing.assert_array_equal(km.survival, [0, 0, 0, 0])


def test_time_to_response_kaplan_meier_by_hand(trial: TrialDesign) -> None:
    data = gather(trial, results(), 0)
    km = _km(trial, endpoint(trial, "time_to_response"), data["ketamine"])
    np.testing.assert_array_equal(km.times, [1, 7, 14, 21])  # day 0 is not on the grid
    np.testing.assert_array_equal(km.at_risk, [7, 4, 1, 1])  # P2 leaves the risk set after day 1
    np.testing.assert_array_equal(km.events, [2, 3, 0, 0])
    s1, s7 = float(Fraction(5, 7)), float(Fraction(5, 7) * Fraction(1, 4))
    np.testing.assert_allclose(km.survival, [s1, s7, s7, s7], atol=1e-15)
    # log-log band by hand: Greenwood 2/(7*5) then + 3/(4*1)
    for i, gw in ((0, 2 / 35), (1, 2 / 35 + 3 / 4)):
        s = float(km.survival[i])
        half = Z95 * math.sqrt(gw) / abs(math.log(s))
        assert km.lower[i] == pytest.approx(math.exp(-math.exp(math.log(-math.log(s)) + half)), abs=1e-12)
        assert km.upper[i] == pytest.approx(math.exp(-math.exp(math.log(-math.log(s)) - half)), abs=1e-12)
    got = arm_endpoint(trial, endpoint(trial, "time_to_response"), data["ketamine"])
    assert got.value == 7.0  # S(1) = 0.714 > 0.5 >= S(7) = 0.179
    lo = next(float(t) for t, v in zip(km.times, km.lower, strict=True) if v <= 0.5)
    hi = next((float(t) for t, v in zip(km.times, km.upper, strict=True) if v <= 0.5), None)
    assert got.ci95 == (lo, hi)
    assert got.curve is not None and got.curve.days == [1.0, 7.0, 14.0, 21.0]
    assert got.curve.survival == pytest.approx([5 / 7, 5 / 28, 5 / 28, 5 / 28], abs=1e-6)
    assert got.among is None


def test_time_to_response_placebo_median_and_comparison(trial: TrialDesign) -> None:
    data = gather(trial, results(), 0)
    e = endpoint(trial, "time_to_response")
    km = _km(trial, e, data["placebo"])
    np.testing.assert_array_equal(km.at_risk, [4, 3, 2, 1])
    np.testing.assert_array_equal(km.events, [0, 1, 1, 0])
    np.testing.assert_allclose(km.survival, [1, 2 / 3, 1 / 3, 1 / 3], atol=1e-15)
    assert arm_endpoint(trial, e, data["placebo"]).value == 14.0
    c = compare(trial, e, data["ketamine"], data["placebo"])
    assert c.difference == 7.0 - 14.0
    # log-rank from the raw times (hand-computed oracle, then scipy)
    kt, kh = np.array([1, 7, 1, 7, 21, 1, 7.0]), np.array([1, 1, 0, 1, 0, 1, 1], bool)
    pt, ph = np.array([21, 7, 1, 14.0]), np.array([0, 1, 0, 1], bool)
    # t = 1: n = 7 + 4, d = 2 (both ketamine); t = 7: n = 4 + 3, d = 3 + 1; t = 14: n = 1 + 2, d = 0 + 1
    o_e = (2 - 2 * 7 / 11) + (3 - 4 * 4 / 7) + (0 - 1 / 3)
    v = 2 * (7 / 11) * (4 / 11) * 9 / 10 + 4 * (4 / 7) * (3 / 7) * 3 / 6 + 1 * (1 / 3) * (2 / 3)
    assert c.p_value == pytest.approx(stats.chi2.sf(o_e**2 / v, 1), rel=1e-9)
    ref = stats.logrank(stats.CensoredData(uncensored=kt[kh], right=kt[~kh]), stats.CensoredData(pt[ph], right=pt[~ph]))
    assert c.p_value == pytest.approx(ref.pvalue, rel=1e-9)


# --------------------------------------------------------------------------- relapse


def test_relapse_among_responders(trial: TrialDesign) -> None:
    data = gather(trial, results(), 0)
    t, hit, among = _relapse(trial, data["ketamine"], 7.0)
    # responders at day 7 who attended it: P0, P1, P3, P6.  P2 (28 carried) did not respond;
    # P5's carried 12 would be a response, but P5 was last seen on day 1, so is not followed.
    np.testing.assert_array_equal(among, [True, True, False, True, False, False, True])
    # from day 7: P0 lost at 14 (7 days); P1 censored at its last visit, day 7 (0 days);
    # P3 censored at 21 (14 days); P6 lost at 21 (14 days)
    np.testing.assert_array_equal(t, [7, 0, 14, 14])
    np.testing.assert_array_equal(hit, [True, False, False, True])


def test_relapse_kaplan_meier_by_hand(trial: TrialDesign) -> None:
    data = gather(trial, results(), 0)
    e = endpoint(trial, "relapse")
    km = _km(trial, e, data["ketamine"])
    np.testing.assert_array_equal(km.times, [7, 14])  # days 14 and 21, from day 7
    np.testing.assert_array_equal(km.at_risk, [3, 2])  # P1 (censored at 0) is never at risk
    np.testing.assert_array_equal(km.events, [1, 1])  # the tie at 14: P6's event, P3 still at risk
    np.testing.assert_allclose(km.survival, [2 / 3, 1 / 3], atol=1e-15)
    got = arm_endpoint(trial, e, data["ketamine"])
    assert got.among == 4
    assert got.value == 14.0
    # placebo: only C1 responds at day 7 and loses it at 14 -> S = 0 at 7 days
    placebo = arm_endpoint(trial, e, data["placebo"])
    assert placebo.among == 1
    assert placebo.value == 7.0
    assert placebo.curve is not None and placebo.curve.survival == [0.0, 0.0]
    c = compare(trial, e, data["ketamine"], data["placebo"])
    assert c.difference == 7.0
    reference = log_rank(
        kaplan_meier(np.array([7, 0, 14, 14.0]), np.array([1, 0, 0, 1], bool), np.array([7.0, 14.0])),
        kaplan_meier(np.array([7.0]), np.array([True]), np.array([7.0, 14.0])),
    )
    assert c.p_value == pytest.approx(reference, rel=1e-12)


def test_relapse_at_a_later_day_excludes_earlier_dropouts(trial: TrialDesign) -> None:
    d = design(endpoints=[{"type": "relapse", "responders_at_day": 14}])
    data = gather(d, results(), 0)
    t, hit, among = _relapse(d, data["ketamine"], 14.0)
    # day 14: P3 (8) and P6 (14) respond and attended; P1 and P5 respond only by LOCF
    np.testing.assert_array_equal(among, [False, False, False, True, False, False, True])
    np.testing.assert_array_equal(t, [7, 7])  # P3 censored at day 21; P6 lost at day 21
    np.testing.assert_array_equal(hit, [False, True])


# --------------------------------------------------------------------------- crossover and the summary


def test_crossover_compares_within_patient() -> None:
    d = design(allocation="crossover", n_per_arm=4)
    drug = [
        (30.0, [30, 14, 12, 20, 22]),
        (30.0, [30, 25, 15, NAN, NAN]),
        (24.0, [24, 14, 10, 8, 9]),
        (30.0, [30, 28, 26, 24, 20]),
    ]
    data = gather(d, [chunk("ketamine", drug), chunk("placebo", PLACEBO)], 0)
    c = compare(d, endpoint(d, "mean_change"), data["ketamine"], data["placebo"])
    a = np.array([-10.0, -15.0, -16.0, -6.0])  # day 14 with LOCF for the second patient
    b = np.array([-5.0, -14.0, -4.0, -15.0])
    ref = stats.ttest_rel(a, b)
    assert c.difference == pytest.approx(np.mean(a - b), abs=1e-12)
    assert c.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert c.ci95 == pytest.approx(mean_ci(a - b).ci95, abs=1e-12)
    # response at day 14, paired: drug [F, T, T, F] vs placebo [F, F, F, T] -> b = 2, c = 1
    r = compare(d, endpoint(d, "response"), data["ketamine"], data["placebo"])
    assert r.difference == pytest.approx(0.25)
    assert r.p_value == pytest.approx(1.0)  # exact McNemar, 2 vs 1 discordant


def test_summarise_reports_locf_trajectory_and_power(trial: TrialDesign) -> None:
    # replicate 1: the placebo arm does better, so the mean-change difference changes
    better = [(30.0, [30, 20, 10, 10, 10]) for _ in range(4)]
    second = [
        chunk("ketamine", KETAMINE, replicate=1),
        chunk("placebo", better, replicate=1),
    ]
    s = summarise(trial, results() + second, 2)
    k = s.arms["ketamine"]
    assert k.n == 7 and s.arms["placebo"].n == 4
    assert k.endpoints["relapse_among_responders_day_7"].among == 4
    assert k.endpoints["time_to_response"].value == 7.0
    # the trajectory is over LOCF scores: day 14 = (20 + 15 + 28 + 8 + 24 + 12 + 14) / 7
    assert k.trajectory.mean[3] == pytest.approx(121 / 7, abs=1e-6)
    assert k.trajectory.mean[4] == pytest.approx((22 + 15 + 28 + 9 + 16 + 12 + 25) / 7, abs=1e-6)
    assert s.comparisons["mean_change_day_14"].difference == pytest.approx(-83 / 7 + 38 / 4, abs=1e-6)
    assert s.replicates is not None and s.replicates.n == 2
    power = s.replicates.comparisons["mean_change_day_14"]
    d0, d1 = -83 / 7 + 38 / 4, -83 / 7 + 20
    assert power.mean_difference == pytest.approx((d0 + d1) / 2, abs=1e-6)
    assert power.difference_p2_5_p97_5 == pytest.approx((d0 + 0.025 * (d1 - d0), d0 + 0.975 * (d1 - d0)), abs=1e-6)
    ket = np.array([-10, -15, -2, -16, -6, -18, -16.0])
    p0 = stats.ttest_ind(ket, np.array([-5, -14, -4, -15.0]), equal_var=False).pvalue
    # replicate 1: placebo change -20 for all (zero variance), so Welch reduces to a one-sample t on
    # the ketamine changes with 6 degrees of freedom
    p1 = 2 * stats.t.sf(abs(d1) / math.sqrt(np.var(ket, ddof=1) / 7), 6)
    assert power.power == pytest.approx(np.mean([p0 < 0.05, p1 < 0.05]))
    assert (p0 < 0.05, p1 < 0.05) == (False, True)
