"""Individual parameter values: typical value × covariate effects × between-subject variability.

For a parameter θ with typical value θ_TV (70 kg reference patient), covariate effects
are applied in the order listed in the parameter file, then the random effect η:

    power:        θ ← θ · (c / c_ref)^exponent         (Anderson & Holford 2008)
    factor:       θ ← θ · factor        if the level matches
    linear_above: θ ← θ + slope · max(0, c − threshold)
    log IIV:      θ ← θ · exp(η),        η ~ N(0, ln(1 + CV²))
    logit IIV:    θ ← expit(logit(θ) + η),  η ~ N(0, (CV/100)²)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ketasim.covariates import Covariates
from ketasim.pk._files import (
    FactorCovariate,
    LinearAboveCovariate,
    Parameter,
    PKModelFile,
    PowerCovariate,
)

FloatArray = NDArray[np.float64]


def omega(parameter: Parameter) -> float:
    """Standard deviation of η for a parameter (0 when no IIV is published)."""
    if parameter.iiv_cv_pct is None:
        return 0.0
    cv = parameter.iiv_cv_pct / 100.0
    if parameter.iiv_scale == "logit":
        return cv
    return float(np.sqrt(np.log1p(cv * cv)))


def sample_etas(model: PKModelFile, n_patients: int, rng: np.random.Generator) -> dict[str, FloatArray]:
    """Draw η for every parameter with published IIV (independent normal, no covariance)."""
    return {
        name: rng.normal(0.0, omega(p), size=n_patients)
        for name, p in sorted(model.parameters.items())
        if p.iiv_cv_pct is not None
    }


def _apply_covariates(value: FloatArray, p: Parameter, cov: Covariates) -> FloatArray:
    for effect in p.covariates:
        if isinstance(effect, PowerCovariate):
            value = value * (cov.value(effect.covariate) / effect.reference) ** effect.exponent
        elif isinstance(effect, FactorCovariate):
            value = np.where(cov.is_level(effect.covariate, effect.level), value * effect.factor, value)
        elif isinstance(effect, LinearAboveCovariate):
            excess = np.maximum(cov.value(effect.covariate) - effect.threshold, 0.0)
            value = value + effect.slope * excess
    return value


def individual_parameters(
    model: PKModelFile, covariates: Covariates, etas: dict[str, FloatArray] | None = None
) -> dict[str, FloatArray]:
    """Each parameter of ``model`` as an array over the patients in ``covariates``."""
    etas = etas or {}
    out: dict[str, FloatArray] = {}
    for name, p in model.parameters.items():
        value = _apply_covariates(np.full(covariates.n, p.value, dtype=np.float64), p, covariates)
        eta = etas.get(name)
        if eta is not None:
            if p.iiv_scale == "logit":
                logit = np.log(value / (1.0 - value)) + eta
                value = 1.0 / (1.0 + np.exp(-logit))
            else:
                value = value * np.exp(eta)
        out[name] = value
    return out
