"""Non-compartmental analysis: Cmax, Tmax, AUC(0–t), AUC(0–∞), terminal half-life.

AUC uses the linear-up / log-down trapezoidal rule; λz is the log-linear least-squares
slope of the positive points in the last third of the time after Tmax (at least
three) (Gabrielsson & Weiner, *Pharmacokinetic
and Pharmacodynamic Data Analysis*, 5th ed., 2016, ch. 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class NCA:
    """NCA summary of one concentration–time profile (ng/mL, h)."""

    cmax_ng_ml: float
    tmax_h: float
    auc_0_t_ng_h_ml: float
    auc_0_inf_ng_h_ml: float
    half_life_h: float


def compute_nca(times_h: NDArray[np.float64], conc_ng_ml: NDArray[np.float64], terminal_fraction: float = 1 / 3) -> NCA:
    """NCA of one profile; ``times_h`` increasing, concentrations ≥ 0."""
    t = np.asarray(times_h, dtype=np.float64)
    c = np.asarray(conc_ng_ml, dtype=np.float64)
    if t.ndim != 1 or t.shape != c.shape or t.size < 3:
        raise ValueError("times_h and conc_ng_ml must be 1-D, same length, at least 3 points")
    if np.any(np.diff(t) <= 0):
        raise ValueError("times_h must be strictly increasing")
    i_max = int(np.argmax(c))
    dt = np.diff(t)
    c0, c1 = c[:-1], c[1:]
    down = (c1 < c0) & (c1 > 0) & (c0 > 0)
    ratio = np.where(down, c0 / np.where(c1 > 0, c1, 1.0), 2.0)
    log_trap = np.where(down, (c0 - c1) * dt / np.log(ratio), 0.0)
    lin_trap = 0.5 * (c0 + c1) * dt
    auc_t = float(np.sum(np.where(down, log_trap, lin_trap)))
    positive = np.flatnonzero(c > 0)
    after = positive[positive > i_max]
    start_h = t[-1] - terminal_fraction * (t[-1] - t[i_max])
    tail = after[t[after] >= start_h]
    if tail.size < 3:
        tail = after[-3:]
    half_life = math.nan
    auc_inf = math.nan
    if tail.size >= 3:
        slope = float(np.polyfit(t[tail], np.log(c[tail]), 1)[0])
        if slope < 0:
            lambda_z = -slope
            half_life = math.log(2.0) / lambda_z
            auc_inf = auc_t + float(c[positive[-1]]) / lambda_z
    return NCA(
        cmax_ng_ml=float(c[i_max]),
        tmax_h=float(t[i_max]),
        auc_0_t_ng_h_ml=auc_t,
        auc_0_inf_ng_h_ml=auc_inf,
        half_life_h=half_life,
    )
