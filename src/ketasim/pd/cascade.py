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


def _raw_cascade(
    occupancy: FloatArray, p: CascadeParameters, norm: dict[str, float]
) -> dict[str, FloatArray]:
    h = GRID_STEP_H
    disinhibition = first_order(occupancy, p.tau_disinhibition_h, h)
    adaptation = first_order(disinhibition, p.tau_adapt_h, h)
    surge = np.maximum(disinhibition - adaptation, 0.0)
    glutamate = p.glutamate_peak_rise * surge / norm.get("surge", 1.0)
    ampa = first_order(surge, p.tau_ampa_h, h) / norm.get("ampa", 1.0)
    bdnf = first_order(ampa, p.tau_bdnf_h, h) / norm.get("bdnf", 1.0)
    mtor = first_order(bdnf / (1.0 + bdnf), p.tau_mtorc1_h, h) / norm.get("mtorc1", 1.0)
    protein = first_order(mtor, p.tau_protein_h, h) / norm.get("synaptic_proteins", 1.0)
    transient = first_order(protein, p.tau_spine_transient_h, h)
    stable = (
        p.stable_fraction
        * p.tau_spine_stable_h
        / p.tau_spine_transient_h
        * first_order(transient, p.tau_spine_stable_h, h)
    )
    synapse_norm = norm.get("synapses", 1.0)
    synapses = (transient + stable) / synapse_norm
    network = first_order(synapses, p.tau_network_h, h) / norm.get("network", 1.0)
    return {
        "nmda_occupancy": occupancy,
        "disinhibition": disinhibition,
        "glutamate": glutamate,
        "ampa": ampa,
        "bdnf": bdnf,
        "mtorc1": mtor,
        "synaptic_proteins": protein,
        "spines_transient": transient / synapse_norm,
        "spines_stable": stable / synapse_norm,
        "synapses": synapses,
        "network": network,
        "surge": surge,
    }


@cache
def _reference_occupancy() -> FloatArray:
    """Occupancy after one standard infusion (0.5 mg/kg over 40 min, 70 kg man, 40 y)."""
    from ketasim.pd.receptor import nmda_occupancy
    from ketasim.pk import load_model
    from ketasim.regimens import Dose

    times = np.arange(0.0, 24.0 * 28 + 1e-9, GRID_STEP_H)
    res = load_model("racemic_ketamine").simulate([Dose(amount_mg_per_kg=0.5, duration_h=40 / 60)], times)
    return nmda_occupancy(res.free_brain_um)


@cache
def _normalisers(p: CascadeParameters) -> tuple[tuple[str, float], ...]:
    """Peak of each stage after one standard infusion, stage by stage (so each index is 1 there)."""
    occ = _reference_occupancy()[None, :]
    norm: dict[str, float] = {}
    for stage in ("surge", "ampa", "bdnf", "mtorc1", "synaptic_proteins", "synapses", "network"):
        norm[stage] = float(np.max(_raw_cascade(occ, p, norm)[stage]))
    return tuple(norm.items())


def run_cascade(occupancy: FloatArray, params: CascadeParameters | None = None) -> dict[str, FloatArray]:
    """Every cascade state (patients × grid times) from NMDA occupancy on the 5-min grid.

    ``glutamate`` is the surge as a fraction above baseline (e.g. 0.38 = +38%); the other
    states are activation indices (1 = peak after one standard infusion).
    """
    p = params or CascadeParameters.default()
    states = _raw_cascade(np.atleast_2d(occupancy), p, dict(_normalisers(p)))
    states.pop("surge")
    return states
