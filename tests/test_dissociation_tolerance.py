"""Tolerance to dissociation is carried from earlier sessions into the next one: a session's
own exposure does not lessen it (the acute adaptation carries the within-session decline)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from ketasim.covariates import Covariates
from ketasim.model import simulate_course
from ketasim.params import default_parameters
from ketasim.regimens import KetamineSessions

PARAMS = default_parameters()
FloatArray = NDArray[np.float64]
PATIENT = Covariates.one(70.0, 40.0, "male")


def _course(gain: float, dose_mg_per_kg: float, days: tuple[int, ...], times_h: FloatArray) -> dict[str, FloatArray]:
    r = simulate_course(
        [KetamineSessions(dose_mg_per_kg=dose_mg_per_kg, days=days, hour_of_day=9)],
        PATIENT, "trd", {"MADRS": [32.0]}, float(times_h[-1]), output_times_h=times_h,
        params=PARAMS.replace(dissociation_tolerance_gain=gain),
    )  # fmt: skip
    return {k: np.asarray(v[0]) for k, v in r.adverse.items()}


@settings(max_examples=10, deadline=None)
@given(gain=st.floats(0.01, 5.0), dose=st.sampled_from([0.2, 0.5, 0.75, 1.0]))
def test_the_first_session_is_not_lessened_by_its_own_exposure(gain: float, dose: float) -> None:
    """Oracle: a first session's CADSS is the one with no tolerance at all, at every minute,
    although the tolerance index itself rises during it."""
    t = 9.0 + np.arange(0.0, 3.0, 1 / 60)
    with_tolerance, without = _course(gain, dose, (0,), t), _course(0.0, dose, (0,), t)
    assert with_tolerance["dissociation_tolerance"][-1] > 0.1  # the session counts for the next one
    np.testing.assert_allclose(with_tolerance["cadss"], without["cadss"], rtol=1e-12, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(gain=st.floats(0.01, 5.0), gap_days=st.integers(1, 14))
def test_a_later_session_is_lessened_by_the_tolerance_it_started_with(gain: float, gap_days: int) -> None:
    """Oracle: the second session's CADSS is the tolerance-free one divided by 1 + k·T(t₂)·e^{−(t − t₂)/τ},
    T(t₂) the package's tolerance index read at that session's start."""
    t2 = 24.0 * gap_days + 9.0
    t = np.concatenate([[t2], t2 + np.arange(1 / 60, 3.0, 1 / 60)])
    with_tolerance, without = _course(gain, 0.5, (0, gap_days), t), _course(0.0, 0.5, (0, gap_days), t)
    tau_h = PARAMS["adverse.tau_tolerance_days"] * 24.0
    carried = with_tolerance["dissociation_tolerance"][0] * np.exp(-(t - t2) / tau_h)
    assert carried[0] > 0.0
    np.testing.assert_allclose(
        with_tolerance["cadss"], without["cadss"] / (1.0 + gain * carried), rtol=1e-9, atol=1e-12
    )
