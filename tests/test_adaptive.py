"""Courses that follow the patient: each decision checked against the model re-run for the
patients it concerns (an independent evaluation of the same rule)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ketasim.errors import DoseError, InputError
from ketasim.model import expose, outcomes, simulate_course
from ketasim.model.adaptive import decide_sessions, doses_decided
from ketasim.params import default_parameters
from ketasim.population import sample_population
from ketasim.regimens import KetamineSessions
from ketasim.vocabulary import scale

PARAMS = default_parameters()
DAYS = (0.0, 2.0, 4.0, 7.0, 9.0, 11.0)
POP = sample_population(80, 21, "trd", {"MADRS": 30})


def _course(**rules: object) -> KetamineSessions:
    return KetamineSessions.model_validate(
        {"drug": "racemic_ketamine", "route": "iv", "dose_mg_per_kg": 0.5, "days": DAYS, **rules}
    )


def _score_before(item: KetamineSessions, decided: np.ndarray, k: int) -> np.ndarray:
    """Every patient's modelled MADRS just before session k, given the decided doses."""
    t = 24.0 * DAYS[k] + item.hour_of_day - 5.0 / 60.0
    ex = expose(
        [item], POP.covariates, t, params=PARAMS, pk_etas=POP.pk_etas, output_times_h=[t], dose_scale={0: decided}
    )
    res = outcomes(ex, "trd", POP.baselines, [t], params=PARAMS, gains=POP.gains(PARAMS))
    return res.scales["MADRS"][:, 0]


@pytest.mark.parametrize("score_at_most", [None, 12.0])
def test_stop_at_remission(score_at_most: float | None) -> None:
    """The scale's cut-off, or a trial's own (TRANSFORM: MADRS <= 12; KetECT: <= 10)."""
    item = _course(stop_when={"remission": True, "score_at_most": score_at_most})
    decided = decide_sessions(
        [item], POP.covariates, "trd", POP.baselines, "MADRS", PARAMS, pk_etas=POP.pk_etas, gains=POP.gains(PARAMS)
    )[0]
    given = decided > 0
    assert given[:, 0].all()
    assert np.all(np.diff(given.astype(int), axis=1) <= 0)  # once stopped, stopped
    remission = scale("MADRS").remission_max if score_at_most is None else score_at_most
    for k in range(1, len(DAYS)):
        before = _score_before(item, decided, k)
        was_on = given[:, k - 1]
        stopped_now = was_on & ~given[:, k]
        assert np.all(before[stopped_now] <= remission + 1e-6)
        assert np.all(before[was_on & given[:, k]] > remission - 1e-6)
    assert 0 < (~given[:, -1]).sum() < POP.n  # some stop, some go on: the rule is exercised


def test_escalate_unless_response_and_max_sessions() -> None:
    item = _course(escalate={"to_mg_per_kg": 0.75, "after_session": 2, "unless_response": True}, max_sessions=4)
    decided = decide_sessions(
        [item], POP.covariates, "trd", POP.baselines, "MADRS", PARAMS, pk_etas=POP.pk_etas, gains=POP.gains(PARAMS)
    )[0]
    doses = doses_decided([item], {0: decided})[0]
    assert set(np.unique(doses)) <= {0.0, 0.5, 0.75}
    assert np.all((doses > 0).sum(axis=1) == 4)  # max_sessions
    assert np.all(doses[:, :2] == 0.5)  # no escalation before session index 2
    before = _score_before(item, decided, 2)
    responding = scale("MADRS").responded(before, POP.baselines["MADRS"])
    assert np.all(doses[responding, 2] == 0.5) and np.all(doses[~responding, 2] == 0.75)


def test_reduce_after_dissociation() -> None:
    item = _course(reduce_for={"cadss_above": 4.0, "to_mg_per_kg": 0.25})
    decided = decide_sessions(
        [item], POP.covariates, "trd", POP.baselines, "MADRS", PARAMS, pk_etas=POP.pk_etas, gains=POP.gains(PARAMS)
    )[0]
    doses = 0.5 * decided
    assert set(np.unique(doses)) <= {0.25, 0.5}
    assert np.all(np.diff(doses, axis=1) <= 0)  # a reduction is never undone
    reduced = doses[:, 1] == 0.25
    t = 24.0 * DAYS[0] + item.hour_of_day + np.arange(0.0, 4.0, 1.0 / 12.0)
    ex = expose(
        [item], POP.covariates, t[-1], params=PARAMS, pk_etas=POP.pk_etas, output_times_h=t, dose_scale={0: decided}
    )
    res = outcomes(ex, "trd", POP.baselines, t, params=PARAMS, gains=POP.gains(PARAMS))
    peak = res.adverse["cadss"].max(axis=1)
    np.testing.assert_array_equal(reduced, peak > 4.0)
    assert 0 < reduced.sum() < POP.n


def test_simulate_course_applies_the_rules() -> None:
    item = _course(max_sessions=2)
    res = simulate_course(
        [item], POP.covariates, "trd", {"MADRS": 30.0}, 24.0 * 12, [24.0 * 3, 24.0 * 12], params=PARAMS
    )
    full = simulate_course(
        [_course()], POP.covariates, "trd", {"MADRS": 30.0}, 24.0 * 12, [24.0 * 3, 24.0 * 12], params=PARAMS
    )
    np.testing.assert_allclose(res.scales["MADRS"][:, 0], full.scales["MADRS"][:, 0])  # same before the 3rd session
    assert np.all(res.scales["MADRS"][:, 1] >= full.scales["MADRS"][:, 1] - 1e-9)  # fewer sessions, less effect


def test_bad_rules_are_refused() -> None:
    with pytest.raises(InputError, match=r"stop_when\.scale"):
        simulate_course(
            [_course(stop_when={"remission": True, "scale": "HAM-D17"})], POP.covariates, "trd", {"MADRS": 30.0}, 48.0
        )
    with pytest.raises(ValueError, match="exactly one"):
        _course(stop_when={"remission": True, "response": True})
    with pytest.raises(ValueError, match=r"stop_when\n.*score_at_most: applies to remission only"):
        _course(stop_when={"response": True, "score_at_most": 12})
    with pytest.raises(ValueError, match=r"stop_when\n.*score_at_most: 61 is outside MADRS's range 0-60"):
        _course(stop_when={"remission": True, "scale": "MADRS", "score_at_most": 61})
    with pytest.raises(InputError, match=r"stop_when\.score_at_most"):
        simulate_course(
            [_course(stop_when={"remission": True, "score_at_most": 61})], POP.covariates, "trd", {"MADRS": 30.0}, 48.0
        )
    with pytest.raises(ValueError, match="to_mg_per_kg"):
        _course(escalate={"to_mg": 80})
    with pytest.raises(ValueError, match="after_session"):
        _course(escalate={"to_mg_per_kg": 0.75, "after_session": 6})
    esk = KetamineSessions(drug="esketamine", route="intranasal", dose_mg=56, days=(0, 3), escalate={"to_mg": 112})
    with pytest.raises(DoseError, match=r"treatment\[0\]\.escalate\.to_mg"):
        simulate_course([esk], POP.covariates, "trd", {"MADRS": 30.0}, 48.0)


def test_escalation_in_two_steps_follows_each_rating() -> None:
    """0.5 → 0.75 → 1.0 mg/kg: at each step's session, those not in response go up; nobody
    goes down; those responding stay where they are."""
    steps = [{"to_mg_per_kg": 0.75, "after_session": 2}, {"to_mg_per_kg": 1.0, "after_session": 4}]
    item = _course(escalate=steps)
    decided = decide_sessions(
        [item], POP.covariates, "trd", POP.baselines, "MADRS", PARAMS, pk_etas=POP.pk_etas, gains=POP.gains(PARAMS)
    )[0]
    doses = doses_decided([item], {0: decided})[0]
    assert set(np.unique(doses)) <= {0.5, 0.75, 1.0}
    assert np.all(np.diff(doses, axis=1) >= 0) and np.all(doses[:, :2] == 0.5)
    for k, target in ((2, 0.75), (4, 1.0)):
        responding = scale("MADRS").responded(_score_before(item, decided, k), POP.baselines["MADRS"])
        assert np.all(doses[~responding, k] == target)
        assert np.all(doses[responding, k] == doses[responding, k - 1])
    assert 0 < (doses[:, -1] == 1.0).sum() < POP.n


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        ([{"to_mg_per_kg": 0.75, "after_session": 3}, {"to_mg_per_kg": 1.0, "after_session": 2}], "escalate[1]"),
        ([{"to_mg_per_kg": 0.75, "after_session": 2}, {"to_mg_per_kg": 0.6, "after_session": 4}], "escalate[1]"),
        ([{"to_mg_per_kg": 0.75, "after_session": 2}, {"to_mg": 80, "after_session": 4}], "escalate[1]"),
    ],
)
def test_escalation_steps_must_go_later_and_higher(steps: list[dict[str, float]], field: str) -> None:
    with pytest.raises(ValueError, match=re.escape(field)):
        _course(escalate=steps)
