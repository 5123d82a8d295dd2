"""Exact discrete first-order filters on a uniform time grid, vectorised over patients.

Each cascade stage is a first-order linear system driven by the stage above it,

    dx/dt = (u(t) − x) / τ,

with u piecewise linear between grid points (first-order hold).  Its exact one-step
solution (Franklin, Powell & Workman, *Digital Control of Dynamic Systems*, 3rd ed., §6.3)

    x[k+1] = a·x[k] + (1 − a)·u[k] + (1 − τ/h·(1 − a))·(u[k+1] − u[k]),   a = e^{−h/τ},

is a linear recurrence, run in C by ``scipy.signal.lfilter`` along time for all patients
at once: no Python loop over patients or time steps.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

FloatArray = NDArray[np.float64]


def first_order(u: FloatArray, tau_h: float, step_h: float, x0: FloatArray | None = None) -> FloatArray:
    """Response x (same shape as u: patients × times) of dx/dt = (u − x)/τ, x(0) = x0 (default u[0]·0)."""
    a = math.exp(-step_h / tau_h)
    b1 = 1.0 - tau_h / step_h * (1.0 - a) if tau_h / step_h < 1e6 else step_h / (2 * tau_h)
    b0 = (1.0 - a) - b1
    u = np.asarray(u, dtype=np.float64)
    start = np.zeros(u.shape[:-1]) if x0 is None else np.broadcast_to(np.asarray(x0, dtype=np.float64), u.shape[:-1])
    # lfilter state so that y[0] = x0: zi = x0·a·... (direct form II transposed): y0 = b1·u0 + zi
    zi = (start - b1 * u[..., 0])[..., None]
    y, _ = lfilter([b1, b0], [1.0, -a], u, axis=-1, zi=zi)
    return np.asarray(y, dtype=np.float64)
