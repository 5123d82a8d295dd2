"""Haemodynamic rises while a drug's plasma concentration is held steady (a
target-controlled infusion): the concentration-effect relation of :mod:`ketasim.pd.adverse`
read without its time course, for the concentration-effect studies that report one.

    O_ss  = L/(1 + L),  L = Σ_i C·fraction_i·f_u/(M·K_i)     parent species only (steady state)
    ΔBP   = E_BP·e^(η+κ₁)·O_ss^m/(O50_BP^m + O_ss^m),        as in a session (first session's κ)
    ΔMAP  = (ΔSBP + 2·ΔDBP)/3
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from ketasim.errors import InputError
from ketasim.params import ParameterSet
from ketasim.pd.adverse import AdverseParameters, bp_log_sensitivity, haemodynamics
from ketasim.pd.receptor import affinities_um, nmda_occupancy
from ketasim.pd.symptoms import PatientGains
from ketasim.pk import load_model
from ketasim.population import session_normals

FloatArray = NDArray[np.float64]
MAX_PLASMA_NG_ML = 10_000.0
"""Largest steady concentration read (ng/mL): above deep anaesthesia (~2,000 ng/mL, Långsjö 2005)."""


def steady_occupancy(drug: str, parent_plasma_ng_ml: float, params: ParameterSet) -> float:
    """NMDA occupancy (0–1) once the parent drug's arterial plasma concentration (ng/mL) has
    been steady long enough for the effect site to equal it.  (While an infusion runs, venous
    plasma is lower than arterial by what the tissues extract: ~15% in the racemic model.)"""
    c = parent_plasma_ng_ml
    if isinstance(c, bool) or not isinstance(c, int | float) or not math.isfinite(c) or not 0 < c <= MAX_PLASMA_NG_ML:
        allowed = f"a concentration above 0 and at most {MAX_PLASMA_NG_ML:g} ng/mL"
        raise InputError.one("parent_plasma_ng_ml", f"{c!r} is not allowed: {allowed}")
    free = load_model(drug).steady_free_brain_um(float(c))
    return float(nmda_occupancy({k: np.asarray(v) for k, v in free.items()}, affinities_um(params)))


def steady_rises(
    drug: str, parent_plasma_ng_ml: float, params: ParameterSet, gains: PatientGains
) -> dict[str, FloatArray]:
    """Each patient's rise above baseline at a steady concentration: SBP, DBP and MAP (mmHg),
    heart rate (bpm); patients' and their first session's BP sensitivities from ``gains``."""
    n = len(gains.eta_drug)
    occupancy = np.full((n, 1), steady_occupancy(drug, parent_plasma_ng_ml, params))
    session_z = None if gains.bp_session_keys is None else session_normals(gains.bp_session_keys, 1)
    eta = bp_log_sensitivity(gains.eta_bp, session_z, gains.bp_session_omega, [0.0], np.zeros(1))
    rises = {k: v[:, 0] for k, v in haemodynamics(occupancy, AdverseParameters.from_params(params), eta).items()}
    rises["map_rise_mmhg"] = (rises["sbp_rise_mmhg"] + 2.0 * rises["dbp_rise_mmhg"]) / 3.0
    return rises
