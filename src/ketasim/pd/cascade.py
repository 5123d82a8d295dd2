"""The plasticity cascade: NMDA block → disinhibition → glutamate surge → AMPA → BDNF →
mTORC1 → synaptic proteins → spines → network.

Equations (time in hours; O = NMDA occupancy from :mod:`ketasim.pd.receptor`):

    dI/dt   = (O − I)/τ_I                       disinhibition of pyramidal cells (Homayoun 2007)
    dGa/dt  = (I − Ga)/τ_adapt                  adaptation of the glutamate response
    G       = max(I − Ga, 0)                    glutamate surge; reported as fraction above baseline,
                                                +37.8% at one standard infusion's peak (Milak 2016)
    dA/dt   = (G − A)/τ_AMPA                    AMPA throughput / potentiation (Maeng 2008)
    dB/dt   = (A − B)/τ_BDNF                    BDNF translation and release (Autry 2011)
    dM/dt   = (B/(1 + B) − M)/τ_mTOR            mTORC1 via TrkB, saturating (Li 2010)
    dP/dt   = (M − P)/τ_P                       synaptic proteins (PSD-95, GluA1, synapsin)
    dSf/dt  = (P − Sf)/τ_Sf                     new, transient spines (Moda-Sava 2019)
    dSs/dt  = f_stable·Sf/τ_Sf − Ss/τ_Ss         spines that stabilise (calibrated lifetime)
    dN/dt   = (Sf + Ss − N)/τ_N                 network (DMN connectivity) normalisation (Evans 2018)

A, B, M, P, Sf + Ss and N are reported as *activation indices*: 0 at baseline and 1 at
the peak reached after one standard infusion (0.5 mg/kg IV over 40 min, 70 kg), because
their human magnitudes are not known (BDNF, mTORC1 and spine percentages: NOT FOUND in the
sources). Between stages, B is expressed in that same unit before saturation, so that the
mTORC1 half-saturation sits at one standard infusion's BDNF peak (**assumed**).

Every stage is a first-order linear filter of the stage above, solved exactly for input
quadratic through neighbouring nodes of a solver grid that is fine around doses and coarse between
sessions (:mod:`ketasim.pd._filters`); there is no feedback, so one compiled sweep over the nodes
per patient advances every stage (in parallel over patients).  :func:`cascade_odes` is the same system as an
ODE right-hand side, for reference solvers and model export.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

import numba
import numpy as np
from numpy.typing import NDArray

from ketasim.params import ParameterSet
from ketasim.pd._filters import Sampler, coefficients, hold_step
from ketasim.pd.receptor import affinities_um, nmda_occupancy
from ketasim.pk import load_model
from ketasim.regimens import Dose

FloatArray = NDArray[np.float64]

STATE_NAMES = (
    "nmda_occupancy",
    "disinhibition",
    "glutamate",
    "ampa",
    "bdnf",
    "mtorc1",
    "synaptic_proteins",
    "spines_transient",
    "spines_stable",
    "synapses",
    "network",
)
ODE_STATES = (
    "disinhibition",
    "adaptation",
    "ampa",
    "bdnf",
    "mtorc1",
    "synaptic_proteins",
    "spines_transient",
    "spines_stable",
    "network",
)
"""State vector of :func:`cascade_odes` (normalised units, as reported)."""
STANDARD_INFUSION_H = 40.0 / 60.0


@dataclass(frozen=True)
class CascadeParameters:
    """Time constants (h) and gains of the cascade, from a parameter set: fixed ones
    (``cascade.*``), fitted ones (glutamate adaptation, spine stabilisation), and the receptor
    affinities that set the unit of every activation index (one standard infusion)."""

    tau_disinhibition_h: float
    tau_adapt_h: float
    glutamate_peak_rise: float
    tau_ampa_h: float
    tau_bdnf_h: float
    tau_mtorc1_h: float
    tau_protein_h: float
    tau_spine_transient_h: float
    stable_fraction: float
    tau_spine_stable_h: float
    tau_network_h: float
    ki_um: tuple[tuple[str, float], ...]

    @classmethod
    def from_params(cls, p: ParameterSet) -> CascadeParameters:
        """The cascade's values in a parameter set."""
        return cls(
            tau_disinhibition_h=p["cascade.tau_disinhibition_min"] / 60.0,
            tau_adapt_h=p["tau_glutamate_adaptation_min"] / 60.0,
            glutamate_peak_rise=p["cascade.glutamate_peak_rise"],
            tau_ampa_h=p["cascade.tau_ampa_h"],
            tau_bdnf_h=p["cascade.tau_bdnf_h"],
            tau_mtorc1_h=p["cascade.tau_mtorc1_h"],
            tau_protein_h=p["cascade.tau_synaptic_protein_h"],
            tau_spine_transient_h=p["cascade.tau_spine_transient_h"],
            stable_fraction=p["cascade.spine_stable_fraction"],
            tau_spine_stable_h=p["cascade.tau_spine_stable_days"] * 24.0,
            tau_network_h=p["cascade.tau_network_h"],
            ki_um=tuple(affinities_um(p).items()),
        )

    def upstream(self) -> tuple[float, ...]:
        """The values the stages up to synaptic proteins depend on."""
        return (
            self.tau_disinhibition_h,
            self.tau_adapt_h,
            self.glutamate_peak_rise,
            self.tau_ampa_h,
            self.tau_bdnf_h,
            self.tau_mtorc1_h,
            self.tau_protein_h,
            *(k for _, k in self.ki_um),
        )


@numba.njit(parallel=True, cache=True)
def _upstream_kernel(occ: FloatArray, c: FloatArray, norm: FloatArray) -> FloatArray:
    """One sweep over the nodes per patient: occupancy → I, Ga → surge → A → B → M → P.
    ``c`` (6, 4, K): step coefficients of I, Ga, A, B, M, P; ``norm``: n_A, n_B, n_M, n_P.
    Returns (5, P, N): I, surge (raw), A, B and M, then P in a sixth plane."""
    n_pat, n_t = occ.shape
    out = np.zeros((6, n_pat, n_t))
    inv = 1.0 / norm
    for p in numba.prange(n_pat):
        i = ga = a = b = m = pr = 0.0
        # each stage's input at the previous and current node
        o0, o1 = 0.0, occ[p, 0]
        i0 = i1 = s0 = s1 = a0 = a1 = g0 = g1 = m0 = m1 = 0.0
        for k in range(n_t - 1):
            o2 = occ[p, k + 1]
            i = hold_step(i, c[0], k, o0, o1, o2)
            ga = hold_step(ga, c[1], k, i0, i1, i)
            s2 = max(i - ga, 0.0) * inv[0]
            a = hold_step(a, c[2], k, s0, s1, s2)
            a2 = a * inv[1]
            b = hold_step(b, c[3], k, a0, a1, a2)
            g2 = b / (1.0 + b) * inv[2]
            m = hold_step(m, c[4], k, g0, g1, g2)
            m2 = m * inv[3]
            pr = hold_step(pr, c[5], k, m0, m1, m2)
            out[0, p, k + 1] = i
            out[1, p, k + 1] = s2 * norm[0]
            out[2, p, k + 1] = a
            out[3, p, k + 1] = b
            out[4, p, k + 1] = m
            out[5, p, k + 1] = pr
            o0, o1, i0, i1, s0, s1, a0, a1, g0, g1, m0, m1 = o1, o2, i1, i, s1, s2, a1, a2, g1, g2, m1, m2
    return out


@numba.njit(parallel=True, cache=True)
def _spine_kernel(protein: FloatArray, c: FloatArray, scale: FloatArray) -> FloatArray:
    """One sweep per patient: P → Sf → Ss (raw) and Sf + Ss → N.  ``c`` (3, 4, K) for Sf, Ss,
    N; ``scale``: n_S, stable gain f·τ_Ss/τ_Sf, n_N.  Returns (3, P, N): Sf, Ss, N."""
    n_pat, n_t = protein.shape
    out = np.zeros((3, n_pat, n_t))
    inv_s, inv_n = 1.0 / scale[0], 1.0 / scale[2]
    for p in numba.prange(n_pat):
        sf = ss_raw = net = 0.0
        u0, u1 = 0.0, protein[p, 0] * inv_s
        f0 = f1 = y0 = y1 = 0.0
        for k in range(n_t - 1):
            u2 = protein[p, k + 1] * inv_s
            sf = hold_step(sf, c[0], k, u0, u1, u2)
            ss_raw = hold_step(ss_raw, c[1], k, f0, f1, sf)
            y2 = (sf + scale[1] * ss_raw) * inv_n
            net = hold_step(net, c[2], k, y0, y1, y2)
            out[0, p, k + 1] = sf
            out[1, p, k + 1] = scale[1] * ss_raw
            out[2, p, k + 1] = net
            u0, u1, f0, f1, y0, y1 = u1, u2, f1, sf, y1, y2
    return out


READOUTS = tuple("surge" if name == "glutamate" else name for name in STATE_NAMES if name != "synapses")
"""The planes of :func:`_readout_kernel`, in order, before its followers: the reported states
with the raw surge in place of glutamate, and without synapses (transient + stable)."""
_N_PLANES = len(READOUTS)
PATIENT_BLOCK = 64
"""Patients advanced together, node by node, by :func:`_readout_kernel` (each stage one
short loop over them, which the compiler vectorises; 64 measured fastest of 32–512)."""


@numba.njit(inline="always")
def _advance(x: FloatArray, c: FloatArray, k: int, u0: FloatArray, u1: FloatArray, u2: FloatArray, nb: int) -> None:
    """:func:`hold_step` for a block of patients: x ← a_k·x + b_k·u_{k−1} + c_k·u_k + d_k·u_{k+1}."""
    a0, a1, a2, a3 = c[0, k], c[1, k], c[2, k], c[3, k]
    for j in range(nb):
        x[j] = a0 * x[j] + a1 * u0[j] + a2 * u1[j] + a3 * u2[j]


@numba.njit(inline="always")
def _plane(dst: FloatArray, s: int, h: FloatArray, st: FloatArray, norm0: float, gain: float, nb: int) -> None:
    """Readout plane ``s`` (:data:`READOUTS`) at one node, from the stage states ``st`` and
    the stage inputs ``h`` of that node."""
    if s == 0:
        for j in range(nb):
            dst[j] = h[0, j]
    elif s == 2:
        for j in range(nb):
            dst[j] = h[2, j] * norm0
    elif s == 8:
        for j in range(nb):
            dst[j] = gain * st[7, j]
    else:
        r = 0 if s == 1 else s - 1
        for j in range(nb):
            dst[j] = st[r, j]


@numba.njit(parallel=True, cache=True)
def _readout_kernel(
    occ: FloatArray,
    c: FloatArray,
    norm: FloatArray,
    cs: FloatArray,
    scale: FloatArray,
    follow_source: NDArray[np.intp],
    follow_c: FloatArray,
    left: NDArray[np.intp],
    order: NDArray[np.intp],
    weight_left: FloatArray,
    weight_right: FloatArray,
) -> FloatArray:
    """:func:`_upstream_kernel` and :func:`_spine_kernel` in one sweep, with first-order
    followers of any plane (follower f follows plane ``follow_source[f]`` with step
    coefficients ``follow_c[f]``, from 0), writing only the values at the output times
    (output ``order[j]`` between nodes ``left[j]`` and ``left[j] + 1``, ``left`` sorted):
    (10 + F, P, outputs), the planes of :data:`READOUTS` then the followers.

    Nodes in the outer loop and blocks of :data:`PATIENT_BLOCK` patients inner, in parallel
    over blocks; each stage's input at nodes k − 1, k and k + 1 in a ring of three.  The
    arithmetic and its order are those of the two kernels and of
    :func:`ketasim.pd._filters.first_order`, so the values are the same to the last bit."""
    n_pat, n_t = occ.shape
    n_f = follow_source.size
    n_s = _N_PLANES + n_f
    n_out = left.size
    out = np.empty((n_s, n_pat, n_out))
    needed = np.zeros(n_t, dtype=np.bool_)  # nodes whose planes an output reads
    for q in range(n_out):
        needed[left[q]] = True
        needed[left[q] + 1] = True
    inv0, inv1, inv2, inv3 = 1.0 / norm[0], 1.0 / norm[1], 1.0 / norm[2], 1.0 / norm[3]
    inv_s, inv_n, gain = 1.0 / scale[0], 1.0 / scale[2], scale[1]
    for blk in numba.prange((n_pat + PATIENT_BLOCK - 1) // PATIENT_BLOCK):
        p0 = blk * PATIENT_BLOCK
        nb = min(PATIENT_BLOCK, n_pat - p0)
        st = np.zeros((9, PATIENT_BLOCK))  # I, Ga, A, B, M, P, Sf, Ss (raw), N
        h = np.zeros((3, 9, PATIENT_BLOCK))  # inputs of those stages: O, I, G, A/n_A, …, (Sf + Ss)/n_N
        fol = np.zeros((n_f, PATIENT_BLOCK))
        fh = np.zeros((3, n_f, PATIENT_BLOCK))
        cur = np.zeros((n_s, PATIENT_BLOCK))
        nxt = np.zeros((n_s, PATIENT_BLOCK))
        for j in range(nb):
            h[0, 0, j] = occ[p0 + j, 0]
        for f in range(n_f):
            _plane(fh[0, f], follow_source[f], h[0], st, norm[0], gain, nb)
        if needed[0]:
            for r in range(_N_PLANES):
                _plane(cur[r], r, h[0], st, norm[0], gain, nb)
        q = 0
        for k in range(n_t - 1):
            hp, hc, hn = h[(k + 2) % 3], h[k % 3], h[(k + 1) % 3]
            for j in range(nb):
                hn[0, j] = occ[p0 + j, k + 1]
            _advance(st[0], c[0], k, hp[0], hc[0], hn[0], nb)
            for j in range(nb):
                hn[1, j] = st[0, j]
            _advance(st[1], c[1], k, hp[1], hc[1], hn[1], nb)
            for j in range(nb):
                hn[2, j] = max(st[0, j] - st[1, j], 0.0) * inv0
            _advance(st[2], c[2], k, hp[2], hc[2], hn[2], nb)
            for j in range(nb):
                hn[3, j] = st[2, j] * inv1
            _advance(st[3], c[3], k, hp[3], hc[3], hn[3], nb)
            for j in range(nb):
                hn[4, j] = st[3, j] / (1.0 + st[3, j]) * inv2
            _advance(st[4], c[4], k, hp[4], hc[4], hn[4], nb)
            for j in range(nb):
                hn[5, j] = st[4, j] * inv3
            _advance(st[5], c[5], k, hp[5], hc[5], hn[5], nb)
            for j in range(nb):
                hn[6, j] = st[5, j] * inv_s
            _advance(st[6], cs[0], k, hp[6], hc[6], hn[6], nb)
            for j in range(nb):
                hn[7, j] = st[6, j]
            _advance(st[7], cs[1], k, hp[7], hc[7], hn[7], nb)
            for j in range(nb):
                hn[8, j] = (st[6, j] + gain * st[7, j]) * inv_n
            _advance(st[8], cs[2], k, hp[8], hc[8], hn[8], nb)
            fp, fc, fn = fh[(k + 2) % 3], fh[k % 3], fh[(k + 1) % 3]
            for f in range(n_f):
                _plane(fn[f], follow_source[f], hn, st, norm[0], gain, nb)
                _advance(fol[f], follow_c[f], k, fp[f], fc[f], fn[f], nb)
            if needed[k + 1]:
                for r in range(_N_PLANES):
                    _plane(nxt[r], r, hn, st, norm[0], gain, nb)
                for f in range(n_f):
                    for j in range(nb):
                        nxt[_N_PLANES + f, j] = fol[f, j]
            while q < n_out and left[q] == k:
                o = order[q]
                for r in range(n_s):
                    for j in range(nb):
                        out[r, p0 + j, o] = weight_left[o] * cur[r, j] + weight_right[o] * nxt[r, j]
                q += 1
            if needed[k + 1]:
                cur, nxt = nxt, cur
    return out


def readouts(
    occupancy: FloatArray,
    times_h: FloatArray,
    p: CascadeParameters,
    at: Sampler,
    followers: Mapping[str, tuple[str, float]] | None = None,
) -> dict[str, FloatArray]:
    """Every cascade state (patients × output times) at the times of ``at`` only, in one
    compiled sweep over the nodes (the values of :func:`run_cascade` sampled there, without a
    full-grid array).  ``followers`` name first-order followers of a plane of
    :data:`READOUTS`: name → (plane, τ in hours), dx/dt = (plane − x)/τ from 0 (for example
    the mood lag of the AMPA index)."""
    occ = np.ascontiguousarray(np.atleast_2d(occupancy), dtype=np.float64)
    norm = dict(normalisers(p))
    c = _steps(
        times_h, p.tau_disinhibition_h, p.tau_adapt_h, p.tau_ampa_h, p.tau_bdnf_h, p.tau_mtorc1_h, p.tau_protein_h
    )
    cs = _steps(times_h, p.tau_spine_transient_h, p.tau_spine_stable_h, p.tau_network_h)
    n = np.array([norm.get(k, 1.0) for k in ("ampa", "bdnf", "mtorc1", "synaptic_proteins")])
    gain = p.stable_fraction * p.tau_spine_stable_h / p.tau_spine_transient_h
    scale = np.array([norm.get("synapses", 1.0), gain, norm.get("network", 1.0)])
    follow = dict(followers or {})
    source = np.array([READOUTS.index(plane) for plane, _ in follow.values()], dtype=np.intp)
    follow_c = _steps(times_h, *(tau for _, tau in follow.values())) if follow else np.zeros((0, 4, 1))
    order = np.argsort(at.left, kind="stable")
    planes = _readout_kernel(
        occ, c, n, cs, scale, source, follow_c, at.left[order], order, at.weight_left, at.weight_right
    )
    out = dict(zip((*READOUTS, *follow), planes, strict=True))
    out["glutamate"] = p.glutamate_peak_rise * out.pop("surge") / norm.get("surge", 1.0)
    out["synapses"] = out["spines_transient"] + out["spines_stable"]
    return {k: out[k] for k in (*STATE_NAMES, *follow)}


def _steps(times_h: FloatArray, *taus_h: float) -> FloatArray:
    return np.ascontiguousarray(np.stack([coefficients(times_h, tau) for tau in taus_h]))


def _upstream(
    occupancy: FloatArray, times_h: FloatArray, p: CascadeParameters, norm: dict[str, float]
) -> dict[str, FloatArray]:
    """Receptor to synaptic proteins (does not depend on the spine parameters)."""
    occ = np.ascontiguousarray(np.atleast_2d(occupancy), dtype=np.float64)
    c = _steps(
        times_h, p.tau_disinhibition_h, p.tau_adapt_h, p.tau_ampa_h, p.tau_bdnf_h, p.tau_mtorc1_h, p.tau_protein_h
    )
    n = np.array([norm.get(k, 1.0) for k in ("ampa", "bdnf", "mtorc1", "synaptic_proteins")])
    disinhibition, surge, ampa, bdnf, mtor, protein = _upstream_kernel(occ, c, n)
    return {
        "nmda_occupancy": occ,
        "disinhibition": disinhibition,
        "glutamate": p.glutamate_peak_rise * surge / norm.get("surge", 1.0),
        "ampa": ampa,
        "bdnf": bdnf,
        "mtorc1": mtor,
        "synaptic_proteins": protein,
        "surge": surge,
    }


def _spines(
    protein: FloatArray, times_h: FloatArray, p: CascadeParameters, norm: dict[str, float]
) -> dict[str, FloatArray]:
    """Synaptic proteins to spines and network."""
    c = _steps(times_h, p.tau_spine_transient_h, p.tau_spine_stable_h, p.tau_network_h)
    gain = p.stable_fraction * p.tau_spine_stable_h / p.tau_spine_transient_h
    scale = np.array([norm.get("synapses", 1.0), gain, norm.get("network", 1.0)])
    transient, stable, network = _spine_kernel(np.ascontiguousarray(protein, dtype=np.float64), c, scale)
    return {"spines_transient": transient, "spines_stable": stable, "synapses": transient + stable, "network": network}


REFERENCE_STEP_H = 1.0 / 60.0
"""Step of the grid the units of the activation indices are computed on (1 min, to 28 days):
fine enough that each stage's peak and the occupancy AUC are exact to better than 1e-6 (on
the coarse solver grid, steps of ~0.7 h near BDNF's 11.6-h peak missed it by 1.7e-4)."""


def standard_infusion_grid(horizon_h: float = 24.0 * 28) -> FloatArray:
    """A uniform 1-minute grid for one standard infusion (0.5 mg/kg over 40 min) from t = 0."""
    return np.arange(0.0, horizon_h + REFERENCE_STEP_H / 2, REFERENCE_STEP_H)


def standard_infusion_occupancy(times_h: FloatArray, ki_um: Mapping[str, float]) -> FloatArray:
    """Occupancy at ``times_h`` after one standard infusion (0.5 mg/kg over 40 min from t = 0,
    70 kg man, 40 y: the unit of every activation index)."""
    dose = Dose(amount_mg_per_kg=0.5, duration_h=STANDARD_INFUSION_H)
    res = load_model("racemic_ketamine").simulate([dose], times_h, amounts=False)
    occupancy: FloatArray = nmda_occupancy(res.free_brain_um, ki_um)[0]
    return occupancy


@cache
def _reference_occupancy(ki_um: tuple[tuple[str, float], ...]) -> tuple[FloatArray, FloatArray]:
    """(grid_h, occupancy) of one standard infusion on its solver grid, to 28 days."""
    times = standard_infusion_grid()
    return times, standard_infusion_occupancy(times, dict(ki_um))


def reference_occupancy_auc(p: CascadeParameters) -> float:
    """∫ occupancy dt (h) of one standard infusion (trapezoid on its solver grid)."""
    return _reference_auc(p.ki_um)


@cache
def _reference_auc(ki_um: tuple[tuple[str, float], ...]) -> float:
    t, occ = _reference_occupancy(ki_um)
    return float(np.trapezoid(occ, t))


@cache
def normalisers(p: CascadeParameters) -> tuple[tuple[str, float], ...]:
    """Peak of each stage after one standard infusion, stage by stage (so each index is 1 there)."""
    t, occ = _reference_occupancy(p.ki_um)
    occ = occ[None, :]
    norm: dict[str, float] = {}
    for stage in ("surge", "ampa", "bdnf", "mtorc1", "synaptic_proteins"):
        norm[stage] = float(np.max(_upstream(occ, t, p, norm)[stage]))
    protein = _upstream(occ, t, p, norm)["synaptic_proteins"]
    for stage in ("synapses", "network"):
        norm[stage] = float(np.max(_spines(protein, t, p, norm)[stage]))
    return tuple(norm.items())


def spine_stage(protein: FloatArray, times_h: FloatArray, params: CascadeParameters) -> dict[str, FloatArray]:
    """Spines and network (patients × nodes) from synaptic proteins on the nodes ``times_h``."""
    return _spines(protein, times_h, params, dict(normalisers(params)))


def upstream_stage(occupancy: FloatArray, times_h: FloatArray, params: CascadeParameters) -> dict[str, FloatArray]:
    """Receptor to synaptic proteins (patients × nodes), no spines."""
    states = _upstream(np.atleast_2d(occupancy), times_h, params, dict(normalisers(params)))
    states.pop("surge")
    return states


def run_cascade(occupancy: FloatArray, times_h: FloatArray, p: CascadeParameters) -> dict[str, FloatArray]:
    """Every cascade state (patients × nodes) from NMDA occupancy on the nodes ``times_h``.

    ``glutamate`` is the surge as a fraction above baseline (e.g. 0.38 = +38%); the other
    states are activation indices (1 = peak after one standard infusion).
    """
    states = upstream_stage(occupancy, times_h, p)
    states.update(spine_stage(states["synaptic_proteins"], times_h, p))
    return states


def cascade_odes(
    params: CascadeParameters, occupancy_at: Callable[[float], float]
) -> Callable[[float, FloatArray], FloatArray]:
    """The cascade as an ODE right-hand side over :data:`ODE_STATES`, in the reported
    (normalised) units, for reference solvers (``scipy.integrate.solve_ivp``) and export.

    Glutamate (the reported surge) is ``glutamate_peak_rise·max(I − Ga, 0)/n_surge``;
    synapses are ``Sf + Ss``.
    """
    p = params
    n = dict(normalisers(p))

    def rhs(t: float, y: FloatArray) -> FloatArray:
        i, ga, a, b, m, pr, sf, ss, net = y
        return np.array(
            [
                (occupancy_at(t) - i) / p.tau_disinhibition_h,
                (i - ga) / p.tau_adapt_h,
                (max(i - ga, 0.0) / n["ampa"] - a) / p.tau_ampa_h,
                (a / n["bdnf"] - b) / p.tau_bdnf_h,
                (b / (1 + b) / n["mtorc1"] - m) / p.tau_mtorc1_h,
                (m / n["synaptic_proteins"] - pr) / p.tau_protein_h,
                (pr / n["synapses"] - sf) / p.tau_spine_transient_h,
                p.stable_fraction * sf / p.tau_spine_transient_h - ss / p.tau_spine_stable_h,
                ((sf + ss) / n["network"] - net) / p.tau_network_h,
            ]
        )

    return rhs
