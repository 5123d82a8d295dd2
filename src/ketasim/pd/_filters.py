"""Exact first-order filters on a (non-uniform) time grid, compiled, for all patients at once.

Each cascade stage is a first-order linear system driven by the stage above it,

    dx/dt = (u(t) − x) / τ,

with u quadratic through three neighbouring nodes (a second-order hold).  Its exact
one-step solution over a step h_k = t_{k+1} − t_k (the hold-equivalent discretisation of
Franklin, Powell & Workman, *Digital Control of Dynamic Systems*, 3rd ed., §6.3, one
order higher) is

    x_{k+1} = a_k·x_k + Σ_j β_{k,j}·u_j,    a_k = e^{−h_k/τ},
    β_{k,j} = Σ_m c_{j,m}·W_m(h_k/τ),   W_m(x) = x ∫₀¹ e^{−x(1−σ)} σ^m dσ,

where c_{j,m} are the coefficients of node j's Lagrange polynomial in σ = (t − t_k)/h_k.

The recurrence runs in a Numba-compiled loop, in parallel over patients: no Python loop
over patients or time steps.  The grid comes from :func:`solver_grid`: nodes at every
dose start and end (jump points of the input), a fine uniform step while the drug goes in
and for a while after, widening geometrically to a coarse step between sessions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

FINE_STEP_H = 0.25 / 60.0
"""Step while a dose goes in and for FINE_WINDOW_H after it ends (15 s).  With the other
three settings, chosen so the batched model matches solve_ivp (rtol 1e-10) within 5e-5 of
each output's peak (tests/test_batched_vs_solve_ivp.py; 1e-4 is the requirement).  30 s
until the arterial front end (2026-12-05): an infusion's rate then reaches the effect site
at once, and on the ke0 clock (t½ 6.1 min) a 30 s quadratic hold left up to 2.6e-4 of the
glutamate surge's peak early in a 1 mg/kg infusion; 15 s leaves 2.8e-5 at 1.04× the time
(2,000 patients, six infusions)."""
FINE_WINDOW_H = 0.5
COARSE_STEP_H = 6.0
"""Largest step, between sessions.  Every stage is integrated exactly for a quadratic input,
so the step is limited by how smooth the inputs are, not by the fastest time constant."""
GROWTH = 1.06
"""Ratio of successive steps when widening from the fine to the coarse step (the step stays
about 6% of the time since the dose, which suits inputs that decay exponentially)."""
_MERGE_H = 1e-7
KINK_H = 1e-5
"""A node this long (0.036 s) after every input's start and end.  The arterial front end passes
an infusion's rate to the effect site at once, so the effect site's slope (and the
occupancy's) jumps there, and a second-order hold whose three nodes straddle the jump is
only first-order accurate.  With this node the straddling step is 0.036 s long and the next
step's nodes all lie after the jump (without it: 1.03e-4 of the glutamate surge's peak when
an infusion ends just after a fine node, 0.94 s; hypothesis found it)."""


def solver_grid(
    inputs_h: Iterable[tuple[float, float] | tuple[float, float, float]],
    horizon_h: float,
    extra_h: Iterable[float] = (),
    *,
    fine_step_h: float = FINE_STEP_H,
    fine_window_h: float = FINE_WINDOW_H,
    coarse_step_h: float = COARSE_STEP_H,
    growth: float = GROWTH,
) -> FloatArray:
    """Nodes (h) from 0 to ``horizon_h``: every input's (start, end[, absorption_h]) gives
    nodes at start and end (jump points) and :data:`KINK_H` after each, the fine step over
    [start, end + absorption_h + fine_window], then steps widening by ``growth`` up to
    ``coarse_step_h``; ``extra_h`` (e.g. output times) are added as nodes.

    >>> g = solver_grid([(1.0, 1.5)], 4.0, fine_window_h=0.5, fine_step_h=0.25)
    >>> [round(float(x), 5) for x in g[:10]]
    [0.0, 1.0, 1.00001, 1.25, 1.5, 1.50001, 1.75, 2.0, 2.265, 2.5459]
    """
    parts: list[FloatArray] = [np.arange(0.0, horizon_h, coarse_step_h), np.array([horizon_h])]
    n_widen = max(1, math.ceil(math.log(max(coarse_step_h / fine_step_h, 1.0 + 1e-12)) / math.log(growth)))
    widen = np.cumsum(fine_step_h * growth ** np.arange(1, n_widen + 1))  # steps up to the coarse step
    for start, end, *absorption in inputs_h:
        stop = end + fine_window_h + (absorption[0] if absorption else 0.0)
        n_fine = max(1, math.ceil((stop - start) / fine_step_h))
        parts += [
            np.linspace(start, start + n_fine * fine_step_h, n_fine + 1),
            np.array([end, start + KINK_H, end + KINK_H]),
            start + n_fine * fine_step_h + widen,
        ]
    parts.append(np.asarray(list(extra_h), dtype=np.float64))
    nodes = np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])
    nodes = np.unique(nodes[(nodes >= 0.0) & (nodes <= horizon_h)])
    keep = np.concatenate([[True], np.diff(nodes) > _MERGE_H])
    keep[-1] = True
    if keep.size > 1 and not keep[-2] and nodes[-1] - nodes[-2] <= _MERGE_H:
        keep[-2] = False
    out: FloatArray = nodes[keep]
    return out


@numba.njit(cache=True)
def _moments(x: float, e: float) -> tuple[float, float, float]:
    """W_m(x) = x ∫₀¹ e^{−x(1−σ)} σ^m dσ for m = 0, 1, 2 (x = h/τ, e = e^{−x}); below x = 0.25,
    where the closed form cancels, by the series W_m = m!·Σ_j (−x)^j·x/(j + m + 1)! (7 to 12 terms)."""
    if x >= 0.25:
        w0 = -math.expm1(-x)
        w1 = 1.0 - w0 / x
        w2 = w0 - 2.0 * (1.0 - e * (1.0 + x)) / x + (2.0 - e * (x * x + 2.0 * x + 2.0)) / (x * x)
        return w0, w1, w2
    return _series(x, 0), _series(x, 1), _series(x, 2)


_SERIES = np.array([[math.factorial(m) * (-1) ** j / math.factorial(j + m + 1) for j in range(12)] for m in range(3)])
"""m!·(−1)^j/(j + m + 1)!: the series of W_m in powers of x, 12 terms (error < x¹³/13! ≈ 3e-18 at x = 0.25)."""


@numba.njit(inline="always")
def _series(x: float, m: int) -> float:
    terms = 7 if x < 0.01 else (9 if x < 0.06 else 12)  # first term left out < 3e-16 of W_m
    total = 0.0
    for j in range(terms - 1, -1, -1):  # Horner
        total = total * x + _SERIES[m, j]
    return total * x


@numba.njit(cache=True)
def _coefficients(times_h: FloatArray, tau_h: float) -> FloatArray:
    n = times_h.size - 1
    c = np.zeros((4, n))
    for k in range(n):
        h = times_h[k + 1] - times_h[k]
        x = h / tau_h
        c[0, k] = e = math.exp(-x)
        w0, w1, w2 = _moments(x, e)
        if k == 0:
            c[2, 0], c[3, 0] = w0 - w1, w1
            continue
        sig = ((times_h[k - 1] - times_h[k]) / h, 0.0, 1.0)  # nodes k − 1, k, k + 1 on σ = (t − t_k)/h_k
        for j in range(3):
            s1, s2 = sig[(j + 1) % 3], sig[(j + 2) % 3]
            denom = (sig[j] - s1) * (sig[j] - s2)
            # Lagrange basis L_j(σ) = (σ² − (s1 + s2)σ + s1·s2)/denom, integrated against the kernel
            c[1 + j, k] = (w2 - (s1 + s2) * w1 + s1 * s2 * w0) / denom
    return c


def coefficients(times_h: FloatArray, tau_h: float) -> FloatArray:
    """Coefficients (4, K) of every step k of dx/dt = (u − x)/τ on the nodes: a_k = e^{−h_k/τ}
    and the weights of u at nodes k − 1, k and k + 1 (second-order hold: u quadratic through
    them).  The first step has no node before it and uses a first-order hold (u linear
    between nodes 0 and 1), so that a sweep over the nodes never needs u ahead of node k + 1."""
    out: FloatArray = _coefficients(np.ascontiguousarray(times_h, dtype=np.float64), float(tau_h))
    return out


@numba.njit(inline="always")
def hold_step(x: float, c: FloatArray, k: int, u_prev: float, u_cur: float, u_next: float) -> float:
    """One exact step of dx/dt = (u − x)/τ from node k to k + 1 (coefficients from
    :func:`coefficients`)."""
    x_next: float = c[0, k] * x + c[1, k] * u_prev + c[2, k] * u_cur + c[3, k] * u_next
    return x_next


@numba.njit(parallel=True, cache=True)
def _recurrence(u: FloatArray, c: FloatArray, x0: FloatArray) -> FloatArray:
    n_pat, n_t = u.shape
    x = np.empty((n_pat, n_t))
    for p in numba.prange(n_pat):
        xp = x0[p]
        x[p, 0] = xp
        for k in range(n_t - 1):
            xp = hold_step(xp, c, k, u[p, k - 1] if k > 0 else 0.0, u[p, k], u[p, k + 1])
            x[p, k + 1] = xp
    return x


PATIENT_BLOCK = 64
"""Patients advanced together, node by node, by :func:`_recurrence_at` (the inner loop over
them vectorises)."""


@numba.njit(parallel=True, cache=True)
def _recurrence_at(
    u: FloatArray,
    c: FloatArray,
    x0: FloatArray,
    left: NDArray[np.intp],
    order: NDArray[np.intp],
    weight_left: FloatArray,
    weight_right: FloatArray,
) -> FloatArray:
    """:func:`_recurrence` writing only the interpolated values at output times: output
    ``order[j]`` lies between nodes ``left[j]`` and ``left[j] + 1`` (``left`` sorted).  Nodes
    outer, blocks of :data:`PATIENT_BLOCK` patients inner (the input at nodes k − 1, k, k + 1
    in a ring of three); the same arithmetic in the same order as :func:`hold_step`."""
    n_pat, n_t = u.shape
    n_out = left.size
    x = np.empty((n_pat, n_out))
    for blk in numba.prange((n_pat + PATIENT_BLOCK - 1) // PATIENT_BLOCK):
        p0 = blk * PATIENT_BLOCK
        nb = min(PATIENT_BLOCK, n_pat - p0)
        ring = np.zeros((3, PATIENT_BLOCK))
        xp = np.empty(PATIENT_BLOCK)
        xn = np.empty(PATIENT_BLOCK)
        for i in range(nb):
            xp[i] = x0[p0 + i]
            ring[0, i] = u[p0 + i, 0]
        j = 0
        for k in range(n_t - 1):
            up, uc, un = ring[(k + 2) % 3], ring[k % 3], ring[(k + 1) % 3]
            for i in range(nb):
                un[i] = u[p0 + i, k + 1]
            a0, a1, a2, a3 = c[0, k], c[1, k], c[2, k], c[3, k]
            for i in range(nb):
                xn[i] = a0 * xp[i] + a1 * up[i] + a2 * uc[i] + a3 * un[i]
            while j < n_out and left[j] == k:
                o = order[j]
                for i in range(nb):
                    x[p0 + i, o] = weight_left[o] * xp[i] + weight_right[o] * xn[i]
                j += 1
            xp, xn = xn, xp
    return x


def first_order(
    u: FloatArray, tau_h: float, times_h: FloatArray, x0: FloatArray | None = None, *, at: Sampler | None = None
) -> FloatArray:
    """Response x (patients × nodes, like u) of dx/dt = (u − x)/τ on the nodes ``times_h`` (h),
    from x(t₀) = x0 (default 0), with u quadratic through neighbouring nodes (exact for
    quadratic input after the first step; local error O(h⁴)).  With ``at``, only x at the
    sampler's times (patients × times), the same values as ``at(first_order(u, ...))``
    without the full grid in memory.

    >>> t = np.linspace(0.0, 10.0, 11)
    >>> x = first_order(np.ones((1, 11)), 2.0, t)
    >>> bool(abs(x[0, -1] - (1 - np.exp(-5.0))) < 1e-12)
    True
    """
    u2 = np.ascontiguousarray(np.atleast_2d(np.asarray(u, dtype=np.float64)))
    t = np.asarray(times_h, dtype=np.float64)
    start = np.zeros(u2.shape[0]) if x0 is None else np.broadcast_to(np.asarray(x0, np.float64), u2.shape[:1])
    if t.size < 2:
        full = np.broadcast_to(start[:, None], u2.shape).copy()
        return full if at is None else at(full)
    c = np.ascontiguousarray(coefficients(t, tau_h))
    if at is not None:
        order = np.argsort(at.left, kind="stable")
        sampled: FloatArray = _recurrence_at(
            u2, c, np.ascontiguousarray(start), at.left[order], order, at.weight_left, at.weight_right
        )
        return sampled
    out: FloatArray = _recurrence(u2, c, np.ascontiguousarray(start))
    return out


@dataclass(frozen=True)
class Sampler:
    """Linear interpolation from a grid's nodes to fixed times, its indices and weights worked
    out once for every state sampled on the same grid (exact at nodes)."""

    left: NDArray[np.intp]
    weight_left: FloatArray
    weight_right: FloatArray

    def __call__(self, x: FloatArray) -> FloatArray:
        out: FloatArray = x[..., self.left] * self.weight_left + x[..., self.left + 1] * self.weight_right
        return out


def sampler(grid_h: FloatArray, times_h: FloatArray) -> Sampler:
    """The :class:`Sampler` from the nodes ``grid_h`` to ``times_h`` (clipped to the grid)."""
    t = np.clip(np.asarray(times_h, dtype=np.float64), grid_h[0], grid_h[-1])
    k = np.clip(np.searchsorted(grid_h, t, side="right") - 1, 0, grid_h.size - 2)
    frac = (t - grid_h[k]) / (grid_h[k + 1] - grid_h[k])
    frac = np.where(np.abs(t - grid_h[k + 1]) <= _MERGE_H, 1.0, frac)
    return Sampler(k, 1.0 - frac, frac)


def at_times(x: FloatArray, grid_h: FloatArray, times_h: FloatArray) -> FloatArray:
    """Values of x (patients × nodes) at ``times_h``, linear between nodes (exact at nodes)."""
    return sampler(grid_h, times_h)(x)
