"""Exact PK on a time grid whose nodes include every input's start and end: a compiled
march in modal coordinates.

Between two nodes every input is either off or running at a constant rate, so in modal
coordinates z = V⁻¹x each mode evolves exactly as

    z_k(t + h) = e^{λ_k h} z_k(t) + h·φ₁(λ_k h)·Σ_running R_d (V⁻¹ e_{c_d})_k,

with φ₁(x) = (eᵉˣ − 1)/x, and a bolus adds A_d·V⁻¹e_{c_d} at its node.  The factors
e^{λh} and h·φ₁(λh) are computed once per patient and *distinct* step length (a solver
grid has few), so the march costs a few multiply-adds per mode and node, in a
Numba-compiled loop, parallel over patients.  Same solution as
:func:`ketasim.pk._linear.solve_inputs` (tested to 1e-9); used when the grid allows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np
from numpy.typing import NDArray

from ketasim.pk._linear import EigenSystem, _phi1

if TYPE_CHECKING:  # a sampler of ketasim.pd._filters (pk does not import pd)
    from ketasim.pd._filters import Sampler

FloatArray = NDArray[np.float64]
_NODE_TOL_H = 1e-9
ROUND_OFF = 1e-12
"""Values within this fraction of a patient's peak are round-off of the eigen-basis change: 0."""


def grid_holds_inputs(times_h: FloatArray, start_h: FloatArray, duration_h: FloatArray) -> bool:
    """True if the times are increasing and every input starts and ends on a node."""
    t = np.asarray(times_h)
    if t.size < 2 or np.any(np.diff(t) <= 0):
        return False
    if start_h.size == 0:
        return True
    edges = np.unique(np.round(np.concatenate([start_h.ravel(), (start_h + duration_h).ravel()]), 9))
    edges = edges[edges <= t[-1]]
    k = np.clip(np.searchsorted(t, edges), 0, t.size - 1)
    k0 = np.clip(k - 1, 0, t.size - 1)
    near = np.minimum(np.abs(t[k] - edges), np.abs(t[k0] - edges))
    return bool(np.all(near <= _NODE_TOL_H))


@numba.njit(parallel=True, cache=True, fastmath=True)
def _march(
    step_kind: NDArray[np.intp],
    decay: FloatArray,  # (P, U, n) e^{λh}
    gain: FloatArray,  # (P, U, n) h·φ₁(λh)
    weights: FloatArray,  # (P, D, n) V⁻¹ e_c per input
    event_node: NDArray[np.intp],  # (P, E) node of each event, ascending per patient
    event_input: NDArray[np.intp],  # (P, E) its input record
    event_amount: FloatArray,  # (P, E) bolus amount, or the change of rate (+R on, −R off)
    event_is_rate: NDArray[np.bool_],  # (P, E) True: the drive changes; False: a bolus
    observe: FloatArray,  # (P, R, n) rows observed at every node (combinations of rows of V)
    observe_at: FloatArray,  # (P, Q, n) rows observed at the output times only
    left: NDArray[np.intp],  # (O,) output o lies between nodes left[o] and left[o] + 1
    weight_left: FloatArray,  # (O,)
    weight_right: FloatArray,  # (O,)
) -> tuple[FloatArray, FloatArray]:
    n_pat, _, n = decay.shape
    n_ev = event_node.shape[1]
    n_t = step_kind.size + 1
    n_obs = observe.shape[1]
    n_at = observe_at.shape[1]
    n_out = left.size
    out = np.zeros((n_obs, n_pat, n_t))  # one contiguous (patients × nodes) plane per observed row
    out_at = np.zeros((n_at, n_pat, n_out))
    for p in numba.prange(n_pat):
        modes = np.empty((n_t, n))  # the march first, then the observed rows (the reductions vectorise)
        z = np.zeros(n)
        drive = np.zeros(n)
        e = 0
        for k in range(n_t):
            while e < n_ev and event_node[p, e] == k:  # boluses here; infusions switching on/off here
                target = drive if event_is_rate[p, e] else z
                for m in range(n):
                    target[m] += event_amount[p, e] * weights[p, event_input[p, e], m]
                e += 1
            for m in range(n):
                modes[k, m] = z[m]
            if k < n_t - 1:
                u = step_kind[k]
                for m in range(n):
                    z[m] = decay[p, u, m] * z[m] + gain[p, u, m] * drive[m]
        peak = 0.0  # round-off of the basis change, ≤ ROUND_OFF of the patient's peak, is set to 0
        for r in range(n_obs):
            for k in range(n_t):
                acc = 0.0
                for m in range(n):
                    acc += observe[p, r, m] * modes[k, m]
                out[r, p, k] = acc
                peak = max(peak, abs(acc))
        _zero_round_off(out, p, peak)
        peak = 0.0
        for r in range(n_at):
            for o in range(n_out):
                k = left[o]
                acc = 0.0
                for m in range(n):
                    acc += observe_at[p, r, m] * (weight_left[o] * modes[k, m] + weight_right[o] * modes[k + 1, m])
                out_at[r, p, o] = acc
                peak = max(peak, abs(acc))
        _zero_round_off(out_at, p, peak)
    return out, out_at


@numba.njit(inline="always")
def _zero_round_off(out: FloatArray, p: int, peak: float) -> None:
    """Patient ``p``'s values within :data:`ROUND_OFF` of its peak (round-off of the basis change) set to 0."""
    for r in range(out.shape[0]):
        for k in range(out.shape[2]):
            if abs(out[r, p, k]) <= ROUND_OFF * peak:
                out[r, p, k] = 0.0


def _events(
    start_node: NDArray[np.intp], end_node: NDArray[np.intp], amount: FloatArray, rate: FloatArray
) -> tuple[NDArray[np.intp], NDArray[np.intp], FloatArray, NDArray[np.bool_]]:
    """Each patient's input events sorted by node: a bolus (amount) or an infusion's start
    (+rate) at its start node, an infusion's end (−rate) at its end node."""
    n_pat, n_in = start_node.shape
    is_rate = np.broadcast_to(rate != 0.0, (n_pat, n_in))
    node = np.concatenate([start_node, np.where(is_rate, end_node, -1)], axis=1)  # a bolus has no end
    size = np.concatenate([np.where(is_rate, rate, amount), -rate], axis=1)
    rate_event = np.concatenate([is_rate, is_rate], axis=1)
    which = np.broadcast_to(np.tile(np.arange(n_in), 2), node.shape)
    order = np.argsort(np.where(node < 0, np.iinfo(np.intp).max, node), axis=1, kind="stable")
    return (
        np.ascontiguousarray(np.take_along_axis(node, order, axis=1), dtype=np.intp),
        np.ascontiguousarray(np.take_along_axis(which, order, axis=1), dtype=np.intp),
        np.ascontiguousarray(np.take_along_axis(size, order, axis=1), dtype=np.float64),
        np.ascontiguousarray(np.take_along_axis(rate_event, order, axis=1)),
    )


def march_inputs(
    system: EigenSystem,
    times_h: FloatArray,
    input_compartment: NDArray[np.intp],
    start_h: FloatArray,
    duration_h: FloatArray,
    amount: FloatArray,
    observe: NDArray[np.intp],
    observe_scale: FloatArray | None = None,
) -> FloatArray:
    """Amounts of the ``observe`` states, one (P, T) plane each: (n_observed, P, T), the
    values of ``solve_inputs`` (P, T, n_observed) with the state axis first, for a grid that
    holds every input's start and end (:func:`grid_holds_inputs`), each times its
    ``observe_scale`` (n_observed, P) if given (a unit per patient, e.g. 1/volume); values
    within :data:`ROUND_OFF` of the patient's peak over them are 0."""
    rows = system.vectors[:, observe, :]
    rows = rows if observe_scale is None else rows * observe_scale.T[:, :, None]
    full, _ = march_rows(system, times_h, input_compartment, start_h, duration_h, amount, rows)
    return full


def march_rows(
    system: EigenSystem,
    times_h: FloatArray,
    input_compartment: NDArray[np.intp],
    start_h: FloatArray,
    duration_h: FloatArray,
    amount: FloatArray,
    rows: FloatArray,
    rows_at: FloatArray | None = None,
    at: Sampler | None = None,
) -> tuple[FloatArray, FloatArray]:
    """The march observing linear combinations of the states: ``rows`` (P, R, n) in modal
    coordinates (rows of V, or sums of them, e.g. a blocking load Σ w·C) at every node,
    (R, P, T); ``rows_at`` (P, Q, n) at the output times of ``at`` only, (Q, P, outputs),
    interpolated linearly between the nodes around each.  Values within :data:`ROUND_OFF`
    of the patient's peak over each set are 0."""
    t = np.asarray(times_h, dtype=np.float64)
    lam = system.eigenvalues_per_h
    n_pat, n = lam.shape
    steps = np.diff(t)
    kinds, step_kind = np.unique(np.round(steps, 12), return_inverse=True)
    x = lam[:, None, :] * kinds[None, :, None]
    decay = np.exp(x)
    gain = kinds[None, :, None] * _phi1(x)
    weights = np.ascontiguousarray(np.transpose(system.inverse[:, :, input_compartment], (0, 2, 1)))
    shape = (n_pat, input_compartment.size)
    start = np.broadcast_to(start_h, shape)
    dur = np.broadcast_to(duration_h, shape)
    amt = np.ascontiguousarray(np.broadcast_to(amount, shape), dtype=np.float64)
    rate = np.where(dur > 0, amt / np.where(dur > 0, dur, 1.0), 0.0)
    start_node = np.searchsorted(t, start - _NODE_TOL_H)
    end_node = np.searchsorted(t, start + dur - _NODE_TOL_H)
    empty = np.zeros(0)
    full, sampled = _march(
        step_kind.astype(np.intp),
        np.ascontiguousarray(decay),
        np.ascontiguousarray(gain),
        weights,
        *_events(start_node.astype(np.intp), end_node.astype(np.intp), amt, rate),
        np.ascontiguousarray(rows, dtype=np.float64),
        np.ascontiguousarray(rows_at if rows_at is not None else np.zeros((n_pat, 0, n)), dtype=np.float64),
        at.left.astype(np.intp) if at is not None else np.zeros(0, dtype=np.intp),
        at.weight_left if at is not None else empty,
        at.weight_right if at is not None else empty,
    )
    return full, sampled
