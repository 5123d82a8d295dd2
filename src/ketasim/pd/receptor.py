"""NMDA-receptor occupancy by ketamine and its metabolites.

All species compete for the same channel (PCP) site, so with unbound brain
concentrations C_i and inhibition constants K_i (Ebert et al. 1997, Eur J Pharmacol 333:99)
the fractional occupancy is the competitive mass-action law (Hill coefficient 1):

    occupancy = Σ_i (C_i / K_i) / (1 + Σ_i C_i / K_i).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from ketasim.params import ParameterSet
from ketasim.vocabulary import names

FloatArray = NDArray[np.float64]


def affinities_um(params: ParameterSet) -> dict[str, float]:
    """K_i (µM) of every receptor-active species (``receptor.Ki_<species>_um``)."""
    return {species: params[f"receptor.Ki_{species}_um"] for species in names("species")}


def nmda_occupancy(free_brain_um: Mapping[str, FloatArray], ki_um: Mapping[str, float]) -> FloatArray:
    """Fraction (0–1) of NMDA receptors blocked, from unbound brain concentrations in µM and
    the species' inhibition constants ``ki_um`` (µM).

    >>> float(nmda_occupancy({"s_ketamine": np.array(0.3)}, {"s_ketamine": 0.3}))
    0.5
    """
    load: FloatArray | float = 0.0
    for species, conc in free_brain_um.items():
        load = load + np.asarray(conc, dtype=np.float64) / ki_um[species]
    return occupancy_of_load(np.asarray(load, dtype=np.float64))


def occupancy_of_load(load: FloatArray) -> FloatArray:
    """Fraction (0–1) of NMDA receptors blocked by competing species of blocking load
    Σ C_u/K_i: L/(1 + L) (one-site competitive binding at equilibrium)."""
    result: FloatArray = load / (1.0 + load)
    return result
