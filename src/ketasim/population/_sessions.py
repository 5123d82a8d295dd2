"""Session-level random effects: a standard normal per patient and session, reproducible
from one 64-bit key per patient, for as many sessions as a course has.

A counter-based draw (SplitMix64 of key + session index, then the normal quantile) keeps
each patient's session effects independent of how many sessions, patients or chunks a run
has, so a patient's third session is the same whether the course has 3 or 30.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The SplitMix64 finaliser (Steele, Lea & Flood 2014), element-wise, modulo 2⁶⁴."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
    out: NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return out


def session_normals(keys: NDArray[np.uint64], n_sessions: int) -> NDArray[np.float64]:
    """(patients × sessions) independent standard normals; column k depends only on each
    patient's key and k."""
    k = np.arange(n_sessions, dtype=np.uint64)
    with np.errstate(over="ignore"):
        bits = _splitmix64(keys[:, None] * np.uint64(0x100000001B3) + k[None, :])
    u = ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    z: NDArray[np.float64] = ndtri(u)
    return z
