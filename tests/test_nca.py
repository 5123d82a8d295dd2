"""NCA against analytic profiles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketasim.pk import compute_nca


@given(c0=st.floats(1, 1000), half_life=st.floats(0.5, 20))
def test_mono_exponential(c0: float, half_life: float) -> None:
    k = math.log(2) / half_life
    t = np.linspace(0, 6 * half_life, 601)
    nca = compute_nca(t, c0 * np.exp(-k * t))
    assert nca.cmax_ng_ml == pytest.approx(c0)
    assert nca.tmax_h == 0
    assert nca.half_life_h == pytest.approx(half_life, rel=1e-9)
    assert nca.auc_0_inf_ng_h_ml == pytest.approx(c0 / k, rel=1e-9)  # log-down is exact here


def test_rejects_bad_profiles() -> None:
    with pytest.raises(ValueError, match="increasing"):
        compute_nca(np.array([0.0, 2.0, 1.0]), np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="same length"):
        compute_nca(np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0]))


def test_no_terminal_phase_gives_nan() -> None:
    nca = compute_nca(np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0]))
    assert math.isnan(nca.half_life_h)
    assert nca.auc_0_t_ng_h_ml == pytest.approx(2.0)
