"""Virtual patients: covariates, PK random effects and symptom-layer gains, from a seed.

Covariate distributions (documented; refined by the virtual-population issue):

* weight: log-normal, median 74 kg, CV 20%, bounded to 45–150 kg — median from the
  Perez-Ruixo 2021 analysis population (74 kg, range 39–170); the CV is **assumed**;
* age: normal, mean 45, SD 12 years, bounded to 18–75 — mean from Perez-Ruixo 2021
  (median 45, range 18–86); SD **assumed**;
* sex: 58.4% women (Perez-Ruixo 2021).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ketasim.population._covariates import Covariates

FloatArray = NDArray[np.float64]


def sample_covariates(n: int, rng: np.random.Generator) -> Covariates:
    """Draw ``n`` adult patients (see module docstring for the distributions)."""
    weight = np.clip(74.0 * np.exp(rng.normal(0.0, np.sqrt(np.log1p(0.2**2)), n)), 45.0, 150.0)
    age = np.clip(rng.normal(45.0, 12.0, n), 18.0, 75.0)
    female = rng.random(n) < 0.584
    return Covariates(weight_kg=weight, age_years=age, female=female)


def sample_baselines(
    n: int, means: Mapping[str, float], rng: np.random.Generator, cv: float = 0.15
) -> dict[str, FloatArray]:
    """Baseline scores per scale: normal around the mean with SD = cv × mean (cv **assumed**
    0.15, e.g. MADRS 32 ± 4.8, in line with SYNAPSE's baseline SDs 3.8–6.3)."""
    return {scale: np.maximum(rng.normal(mean, cv * mean, n), 0.0) for scale, mean in means.items()}


@dataclass(frozen=True)
class Seeds:
    """Independent random streams for one population (common random numbers across arms)."""

    covariates: np.random.Generator
    pk: np.random.Generator
    gains: np.random.Generator
    baselines: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> Seeds:
        """Four child streams of one seed."""
        children = np.random.SeedSequence(seed).spawn(4)
        return cls(*(np.random.default_rng(c) for c in children))
