"""Shared test helpers: an independent ODE reference solver."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

Rhs = Callable[[float, NDArray[np.float64]], NDArray[np.float64]]
# (start_h, compartment index, amount, duration_h); duration 0 = bolus
METHOD = "LSODA"
Event = tuple[float, int, float, float]


def reference_solution(
    rhs: Rhs, n_states: int, events: Sequence[Event], times_h: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Integrate dx/dt = rhs(t, x) + infusion inputs with solve_ivp at rtol 1e-10,
    restarting at every dose time and infusion end (bolus = jump in the state)."""
    breaks = sorted({0.0, *(e[0] for e in events), *(e[0] + e[3] for e in events if e[3] > 0)})
    t_end = float(times_h[-1])
    breaks = [b for b in breaks if b < t_end] + [t_end]
    x = np.zeros(n_states)
    out = np.zeros((times_h.size, n_states))
    for a, b in itertools.pairwise(breaks):
        for start, cmt, amount, dur in events:
            if dur == 0 and start == a:
                x[cmt] += amount
        rates = np.zeros(n_states)
        for start, cmt, amount, dur in events:
            if dur > 0 and start <= a < start + dur - 1e-15:
                rates[cmt] += amount / dur

        def f(t: float, y: NDArray[np.float64], rates: NDArray[np.float64] = rates) -> NDArray[np.float64]:
            return rhs(t, y) + rates

        mask = (times_h >= a) & (times_h < b)
        if b > a:
            t_eval = np.append(times_h[mask], b)
            sol = solve_ivp(f, (a, b), x, method=METHOD, rtol=1e-10, atol=1e-14, t_eval=t_eval)
            assert sol.success
            out[mask] = sol.y.T[:-1]
            x = sol.y[:, -1]
    out[times_h >= t_end] = x
    return out
