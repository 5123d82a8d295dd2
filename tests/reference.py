"""Shared test helpers: an independent ODE reference solver."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from ketasim.odes import integrate_with_events

Rhs = Callable[[float, NDArray[np.float64]], NDArray[np.float64]]
# (start_h, compartment index, amount, duration_h); duration 0 = bolus
METHOD = "LSODA"
Event = tuple[float, int, float, float]


def reference_solution(
    rhs: Rhs, n_states: int, events: Sequence[Event], times_h: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Integrate dx/dt = rhs(t, x) + infusion inputs with solve_ivp (LSODA) at rtol 1e-10,
    restarting at every dose time and infusion end (bolus = jump in the state)."""
    return integrate_with_events(rhs, n_states, events, times_h, method=METHOD, rtol=1e-10, atol=1e-14)
