"""Exact solution of linear compartment systems with bolus and zero-order inputs.

A linear compartment model with inputs is

    dx/dt = M x + u(t),

where ``M`` (n × n, per patient) holds the first-order transfer rate constants (1/h) and
``u`` is a sum of boluses (Dirac inputs at dose times) and zero-order infusions (constant
rates between start and stop).  Its solution is the superposition of each input's
response (Gibaldi & Perrier, *Pharmacokinetics*, 2nd ed., 1982, ch. 1 and appendix B):

    x(t) = Σ_bolus  A_d e^{M (t - τ_d)} e_c
         + Σ_infusion R_d ∫_{τ_d}^{min(t, τ_d + T_d)} e^{M (t - s)} ds e_c.

With the eigen-decomposition ``M = V diag(λ) V⁻¹`` each term is a sum of exponentials,
evaluated here for every patient × time at once (no loop over patients or times; one
loop over dose records, which are few).  Defective or nearly defective systems (for
example an absorption rate equal to an elimination rate) are handled by a relative
perturbation of about 1e-8 of each compartment's outflows, which keeps mass balance exact
and changes the solution by less than 1e-6 (tested up to k·t = 30).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

_CONDITION_LIMIT = 1e7
_JITTER = 1e-8


def _phi1(z: FloatArray) -> FloatArray:
    """(e^z − 1)/z, with its limit 1 at z = 0, evaluated without cancellation (``expm1`` is
    accurate however small z is, so only z = 0 needs its limit)."""
    z = np.asarray(z, dtype=np.float64)
    result: FloatArray = np.divide(np.expm1(z), z, out=np.ones_like(z), where=z != 0.0)
    return result


@dataclass(frozen=True)
class EigenSystem:
    """Eigen-decomposition of a batch of rate matrices ``M`` (patients × n × n)."""

    eigenvalues_per_h: FloatArray  # (P, n)
    vectors: FloatArray  # (P, n, n), columns are eigenvectors
    inverse: FloatArray  # (P, n, n)


def _inverse_and_condition(vectors: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Inverse of each eigenvector matrix and its condition number in the 1-norm,
    ‖V‖₁·‖V⁻¹‖₁ (within a factor n of the 2-norm one, without an SVD per patient); where a
    V is singular, the inverse is NaN and the condition inf."""
    try:
        inverse: FloatArray = np.asarray(np.linalg.inv(vectors), dtype=np.float64)
    except np.linalg.LinAlgError:  # a singular V somewhere: patient by patient
        inverse = np.full_like(vectors, np.nan)
        for p in np.flatnonzero(np.isfinite(np.linalg.cond(vectors))):
            inverse[p] = np.linalg.inv(vectors[p])
    norm1 = np.abs(vectors).sum(axis=-2).max(axis=-1) * np.abs(inverse).sum(axis=-2).max(axis=-1)
    condition: FloatArray = np.where(np.isfinite(norm1), norm1, np.inf).astype(np.float64)
    return inverse, condition


def _complex(lam: NDArray[np.complex128] | FloatArray) -> NDArray[np.bool_]:
    """Patients whose eigenvalues are not real (beyond 1e-9 of the largest |λ|)."""
    scale_lam = max(1.0, float(np.max(np.abs(lam), initial=0.0)))
    out: NDArray[np.bool_] = np.max(np.abs(np.imag(lam)), axis=-1, initial=0.0) > 1e-9 * scale_lam
    return out


def decompose(rate_matrix_per_h: FloatArray) -> EigenSystem:
    """Diagonalise each patient's rate matrix, nudging ill-conditioned ones.

    ``rate_matrix_per_h`` has shape (P, n, n); entry [p, i, j] is the rate (1/h) at which
    compartment j feeds compartment i (diagonal: minus the total outflow rate).
    """
    m = np.array(rate_matrix_per_h, dtype=np.float64, copy=True)
    lam_c, vec_c = np.linalg.eig(m)
    lam: FloatArray = np.ascontiguousarray(np.real(lam_c))
    vec: FloatArray = np.ascontiguousarray(np.real(vec_c))
    inv, cond = _inverse_and_condition(vec)
    bad = ~(cond <= _CONDITION_LIMIT) | _complex(lam_c)  # nearly defective: nudged below
    if np.any(bad):
        n = m.shape[-1]
        # Scale each compartment's whole column (outflows and its diagonal) by a distinct
        # factor: column sums, and therefore mass balance, are preserved.
        scale = 1.0 + _JITTER * np.arange(1, n + 1, dtype=np.float64)
        lam_b, vec_b = np.linalg.eig(m[bad] * scale[None, None, :])
        if np.any(_complex(lam_b)):
            raise ValueError("rate matrix has complex eigenvalues: not a compartment model")
        lam[bad] = np.real(lam_b)
        vec[bad] = np.real(vec_b)
        inv[bad] = np.linalg.inv(vec[bad])
    return EigenSystem(eigenvalues_per_h=lam, vectors=vec, inverse=inv)


def reachable(rate_matrix_per_h: FloatArray, sources: NDArray[np.intp]) -> NDArray[np.intp]:
    """The states (sorted indices) that inputs into ``sources`` can reach through any
    patient's rate matrix (P, n, n; entry [i, j] ≠ 0 when j feeds i).  The other states stay
    at zero, and none of them feeds a reachable one, so the system restricted to these is
    the same solution with fewer modes (an IV course does not touch the nasal, oral or
    intramuscular depots)."""
    n = rate_matrix_per_h.shape[-1]
    feeds = np.any(rate_matrix_per_h != 0.0, axis=0)
    seen = np.zeros(n, dtype=bool)
    seen[np.asarray(sources, dtype=np.intp)] = True
    frontier = seen.copy()
    while frontier.any():
        new = np.any(feeds[:, frontier], axis=1) & ~seen
        seen |= new
        frontier = new
    return np.flatnonzero(seen)


def solve_inputs(
    system: EigenSystem,
    times_h: FloatArray,
    input_compartment: NDArray[np.intp],
    start_h: FloatArray,
    duration_h: FloatArray,
    amount: FloatArray,
    observe: NDArray[np.intp] | None = None,
) -> FloatArray:
    """Amounts in every compartment (or the ``observe`` ones) at ``times_h`` for a set of inputs.

    Parameters
    ----------
    system
        Eigen-decomposition of the patients' rate matrices (P patients, n compartments).
    times_h
        Output times (T,), hours.
    input_compartment
        Index of the receiving compartment for each input record (D,).
    start_h, duration_h
        Start time and duration (h) of each input, shape (P, D) or (D,).  Duration 0 is a
        bolus; a positive duration is a zero-order input of ``amount / duration``.
    amount
        Amount delivered by each input (P, D) or (D,), in the model's mass unit.

    observe
        Indices of the compartments to return (default: all).

    Returns
    -------
    Array (P, T, n_observed) of compartment amounts.

    Notes
    -----
    In modal coordinates z = V⁻¹x every mode decays on its own, z_k(t) = e^{λ_k (t − a)} z_k(a).
    Inputs that have finished by time a are therefore summarised by the modal state at
    the end of each input, built by one pass over the inputs sorted by end time; an
    output time only needs the latest such state, decayed to it (all exponents ≤ 0, so
    nothing overflows).  Inputs still running at an output time add
    ``R·(t − τ)·φ₁(λ(t − τ))``.  Patients are processed in chunks to bound memory.
    """
    lam = system.eigenvalues_per_h
    n_pat, n_cmt = lam.shape
    t = np.asarray(times_h, dtype=np.float64)
    n_inputs = len(input_compartment)
    shape = (n_pat, n_inputs)
    start = np.broadcast_to(np.asarray(start_h, dtype=np.float64), shape)
    dur = np.maximum(np.broadcast_to(np.asarray(duration_h, dtype=np.float64), shape), 0.0)
    amt = np.broadcast_to(np.asarray(amount, dtype=np.float64), shape)
    rows = np.arange(n_cmt) if observe is None else np.asarray(observe, dtype=np.intp)
    out = np.zeros((n_pat, t.size, rows.size))
    if n_inputs == 0 or t.size == 0:
        return out
    chunk = max(1, _CHUNK_ELEMENTS // max(1, t.size * max(n_cmt, n_inputs)))
    for lo in range(0, n_pat, chunk):
        sl = slice(lo, min(n_pat, lo + chunk))
        out[sl] = _solve_chunk(
            lam[sl],
            system.vectors[sl][:, rows, :],
            system.inverse[sl],
            t,
            input_compartment,
            start[sl],
            dur[sl],
            amt[sl],
        )
    return out


_CHUNK_ELEMENTS = 4_000_000
# An output time within 1e-9 h (3.6 µs) of an input's end counts as after it, so that
# round-off in event times cannot make a bolus appear or vanish at an output time.
_EVENT_EPS_H = 1e-9


def _solve_chunk(
    lam: FloatArray,
    vectors: FloatArray,
    inverse: FloatArray,
    t: FloatArray,
    input_compartment: NDArray[np.intp],
    start: FloatArray,
    dur: FloatArray,
    amt: FloatArray,
) -> FloatArray:
    n_pat, n_cmt = lam.shape
    n_inputs = input_compartment.size
    # modal weight of each input: V⁻¹ e_c · amount  → (P, D, n)
    weights = np.transpose(inverse[:, :, input_compartment], (0, 2, 1)) * amt[:, :, None]
    end = start + dur
    # modal content of each input at its end: amount · φ₁(λT) (bolus: T = 0, φ₁ = 1)
    at_end = weights * _phi1(lam[:, None, :] * dur[:, :, None])
    order = np.argsort(end, axis=1, kind="stable")
    end_sorted = np.take_along_axis(end, order, axis=1)
    at_end_sorted = np.take_along_axis(at_end, order[:, :, None], axis=1)
    # modal state just after each input ends, from all inputs ended so far (loop over inputs)
    state = np.empty((n_pat, n_inputs, n_cmt))
    running = np.zeros((n_pat, n_cmt))
    previous_end = end_sorted[:, 0]
    for j in range(n_inputs):
        running = running * np.exp(lam * (end_sorted[:, j] - previous_end)[:, None]) + at_end_sorted[:, j]
        state[:, j] = running
        previous_end = end_sorted[:, j]
    # every output time: the latest ended input's state, decayed to t
    if np.all(end_sorted == end_sorted[:1]):  # same schedule for every patient: index by time only
        n_ended_t = np.searchsorted(end_sorted[0] - _EVENT_EPS_H, t, side="right")  # (T,)
        anchor_t = np.clip(n_ended_t - 1, 0, n_inputs - 1)
        since_t = np.where(n_ended_t > 0, np.maximum(t - end_sorted[0, anchor_t], 0.0), 0.0)
        modal = state[:, anchor_t, :] * np.exp(lam[:, None, :] * since_t[None, :, None])
        modal[:, n_ended_t == 0, :] = 0.0
    else:
        n_ended = np.sum(end_sorted[:, None, :] - _EVENT_EPS_H <= t[None, :, None], axis=2)  # (P, T)
        anchor = np.clip(n_ended - 1, 0, n_inputs - 1)
        since = np.where(n_ended > 0, np.maximum(t[None, :] - np.take_along_axis(end_sorted, anchor, axis=1), 0.0), 0.0)
        flat = state.reshape(n_pat * n_inputs, n_cmt)
        modal = flat[np.arange(n_pat)[:, None] * n_inputs + anchor] * np.exp(lam[:, None, :] * since[:, :, None])
        modal[n_ended == 0] = 0.0
    # inputs still running at an output time (zero-order, τ ≤ t < τ + T)
    for d in np.flatnonzero(np.any(dur > 0, axis=0)):
        lo = int(np.searchsorted(t, float(start[:, d].min()), side="left"))
        hi = int(np.searchsorted(t, float(end[:, d].max()), side="left"))
        if hi <= lo:
            continue
        elapsed = t[None, lo:hi] - start[:, d][:, None]  # (P, S)
        running_now = (elapsed >= 0.0) & (elapsed < dur[:, d][:, None] - _EVENT_EPS_H)
        elapsed = np.where(running_now, elapsed, 0.0)
        rate_weight = weights[:, d, :] / np.where(dur[:, d] > 0, dur[:, d], 1.0)[:, None]  # (P, n)
        modal[:, lo:hi] += elapsed[:, :, None] * _phi1(lam[:, None, :] * elapsed[:, :, None]) * rate_weight[:, None, :]
    amounts: FloatArray = np.matmul(modal, np.transpose(vectors, (0, 2, 1)))
    return amounts
