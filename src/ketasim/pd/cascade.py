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

Every stage is a first-order linear filter of the stage above, solved exactly on a
uniform grid (:mod:`ketasim.pd._filters`); there is no feedback, so stages are computed
one after another for all patients and times at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

from ketasim.pd._filters import first_order
from ketasim.pd._params import calibrated, fixed

FloatArray = NDArray[np.float64]

GRID_STEP_H = 5.0 / 60.0  # integration grid: 5 minutes
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


@dataclass(frozen=True)
class CascadeParameters:
    """Time constants (h) and gains of the cascade; fixed ones from cascade.yaml, fitted
    ones (glutamate adaptation, spine stabilisation) from calibrated.yaml."""

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

    @classmethod
    def default(cls, overrides: dict[str, float] | None = None) -> CascadeParameters:
        """Packaged values; ``overrides`` (calibrated-value names) replace calibrated ones."""
        cal = {**calibrated().values, **(overrides or {})}
        return cls(
            tau_disinhibition_h=fixed("cascade", "tau_disinhibition_min") / 60.0,
            tau_adapt_h=cal["tau_glutamate_adaptation_min"] / 60.0,
            glutamate_peak_rise=fixed("cascade", "glutamate_peak_rise"),
            tau_ampa_h=fixed("cascade", "tau_ampa_h"),
            tau_bdnf_h=fixed("cascade", "tau_bdnf_h"),
            tau_mtorc1_h=fixed("cascade", "tau_mtorc1_h"),
            tau_protein_h=fixed("cascade", "tau_synaptic_protein_h"),
            tau_spine_transient_h=fixed("cascade", "tau_spine_transient_h"),
            stable_fraction=cal["spine_stable_fraction"],
            tau_spine_stable_h=cal["tau_spine_stable_days"] * 24.0,
            tau_network_h=fixed("cascade", "tau_network_h"),
        )


def _upstream(occupancy: FloatArray, p: CascadeParameters, norm: dict[str, float]) -> dict[str, FloatArray]:
    """Receptor to synaptic proteins (does not depend on the spine parameters)."""
    h = GRID_STEP_H
    disinhibition = first_order(occupancy, p.tau_disinhibition_h, h)
    adaptation = first_order(disinhibition, p.tau_adapt_h, h)
    surge = np.maximum(disinhibition - adaptation, 0.0)
    ampa = first_order(surge, p.tau_ampa_h, h) / norm.get("ampa", 1.0)
    bdnf = first_order(ampa, p.tau_bdnf_h, h) / norm.get("bdnf", 1.0)
    mtor = first_order(bdnf / (1.0 + bdnf), p.tau_mtorc1_h, h) / norm.get("mtorc1", 1.0)
    protein = first_order(mtor, p.tau_protein_h, h) / norm.get("synaptic_proteins", 1.0)
    return {
        "nmda_occupancy": occupancy,
        "disinhibition": disinhibition,
        "glutamate": p.glutamate_peak_rise * surge / norm.get("surge", 1.0),
        "ampa": ampa,
        "bdnf": bdnf,
        "mtorc1": mtor,
        "synaptic_proteins": protein,
        "surge": surge,
    }


SLOW_STRIDE = 12  # the slow stages (τ ≥ 12 h) run on an hourly sub-grid, then are interpolated


def _coarse(x: FloatArray) -> FloatArray:
    """Every SLOW_STRIDE-th grid point, always keeping the last one."""
    idx = np.arange(0, x.shape[-1], SLOW_STRIDE)
    if idx[-1] != x.shape[-1] - 1:
        idx = np.append(idx, x.shape[-1] - 1)
    return x[..., idx]


def fine_at(c: FloatArray, n: int, at: NDArray[np.intp]) -> FloatArray:
    """Linear interpolation of a coarse (hourly) series at indices ``at`` of the n-point grid."""
    if c.shape[-1] == n:
        return c[..., at]
    idx = np.arange(0, n, SLOW_STRIDE)
    if idx[-1] != n - 1:
        idx = np.append(idx, n - 1)
    k = np.clip(np.searchsorted(idx, at, side="right") - 1, 0, idx.size - 2)
    frac = (at - idx[k]) / (idx[k + 1] - idx[k])
    return c[..., k] * (1.0 - frac) + c[..., k + 1] * frac


def spines_coarse(protein: FloatArray, p: CascadeParameters, norm: dict[str, float]) -> dict[str, FloatArray]:
    """Synaptic proteins to spines and network, on the hourly sub-grid (see :func:`fine_at`)."""
    n = protein.shape[-1]
    if n < 2 * SLOW_STRIDE:
        coarse, h = protein, GRID_STEP_H
    else:
        coarse, h = _coarse(protein), GRID_STEP_H * SLOW_STRIDE
    # the last coarse step may be shorter than h; the filters treat it as h (error ≤ one 5-min step)
    transient = first_order(coarse, p.tau_spine_transient_h, h)
    stable = (
        p.stable_fraction
        * p.tau_spine_stable_h
        / p.tau_spine_transient_h
        * first_order(transient, p.tau_spine_stable_h, h)
    )
    scale = norm.get("synapses", 1.0)
    synapses = (transient + stable) / scale
    network = first_order(synapses, p.tau_network_h, h) / norm.get("network", 1.0)
    return {
        "spines_transient": transient / scale,
        "spines_stable": stable / scale,
        "synapses": synapses,
        "network": network,
    }


def _spines(protein: FloatArray, p: CascadeParameters, norm: dict[str, float]) -> dict[str, FloatArray]:
    """Spine and network states on the full 5-min grid."""
    n = protein.shape[-1]
    everywhere = np.arange(n)
    return {k: fine_at(v, n, everywhere) for k, v in spines_coarse(protein, p, norm).items()}


@cache
def _reference_occupancy() -> FloatArray:
    """Occupancy after one standard infusion (0.5 mg/kg over 40 min, 70 kg man, 40 y)."""
    from ketasim.pd.receptor import nmda_occupancy
    from ketasim.pk import load_model
    from ketasim.regimens import Dose

    times = np.arange(0.0, 24.0 * 28 + 1e-9, GRID_STEP_H)
    res = load_model("racemic_ketamine").simulate([Dose(amount_mg_per_kg=0.5, duration_h=40 / 60)], times)
    occupancy: FloatArray = nmda_occupancy(res.free_brain_um)[0]
    return occupancy


@cache
def _normalisers(p: CascadeParameters) -> tuple[tuple[str, float], ...]:
    """Peak of each stage after one standard infusion, stage by stage (so each index is 1 there)."""
    occ = _reference_occupancy()[None, :]
    norm: dict[str, float] = {}
    for stage in ("surge", "ampa", "bdnf", "mtorc1", "synaptic_proteins"):
        norm[stage] = float(np.max(_upstream(occ, p, norm)[stage]))
    protein = _upstream(occ, p, norm)["synaptic_proteins"]
    for stage in ("synapses", "network"):
        norm[stage] = float(np.max(_spines(protein, p, norm)[stage]))
    return tuple(norm.items())


def spine_stage(protein: FloatArray, params: CascadeParameters) -> dict[str, FloatArray]:
    """Spines and network on the hourly sub-grid (interpolate with :func:`fine_at`)."""
    return spines_coarse(protein, params, dict(_normalisers(params)))


def upstream_stage(occupancy: FloatArray, params: CascadeParameters) -> dict[str, FloatArray]:
    """Receptor to synaptic proteins on the 5-min grid (no spines)."""
    states = _upstream(np.atleast_2d(occupancy), params, dict(_normalisers(params)))
    states.pop("surge")
    return states


def run_cascade(occupancy: FloatArray, params: CascadeParameters | None = None) -> dict[str, FloatArray]:
    """Every cascade state (patients × grid times) from NMDA occupancy on the 5-min grid.

    ``glutamate`` is the surge as a fraction above baseline (e.g. 0.38 = +38%); the other
    states are activation indices (1 = peak after one standard infusion).
    """
    p = params or CascadeParameters.default()
    norm = dict(_normalisers(p))
    states = _upstream(np.atleast_2d(occupancy), p, norm)
    states.pop("surge")
    states.update(_spines(states["synaptic_proteins"], p, norm))
    return states


def cascade_odes(
    params: CascadeParameters, occupancy_at: Callable[[float], float]
) -> Callable[[float, FloatArray], FloatArray]:
    """The cascade as an ODE right-hand side in raw (unnormalised) units, for reference
    solvers (``scipy.integrate.solve_ivp``) in tests and benchmarks.

    State: disinhibition, adaptation, AMPA, BDNF, mTORC1 (input B/(1+B) in raw B), proteins,
    transient spines, stable spines.
    """
    p = params

    def rhs(t: float, y: FloatArray) -> FloatArray:
        i, ga, a, b, m, pr, sf, ss = y
        return np.array(
            [
                (occupancy_at(t) - i) / p.tau_disinhibition_h,
                (i - ga) / p.tau_adapt_h,
                (max(i - ga, 0.0) - a) / p.tau_ampa_h,
                (a - b) / p.tau_bdnf_h,
                (b / (1 + b) - m) / p.tau_mtorc1_h,
                (m - pr) / p.tau_protein_h,
                (pr - sf) / p.tau_spine_transient_h,
                p.stable_fraction * sf / p.tau_spine_transient_h - ss / p.tau_spine_stable_h,
            ]
        )

    return rhs
