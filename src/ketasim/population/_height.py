"""Adult height by sex, correlated with weight.

* Median height: men 175.5 cm, women 161.6 cm — NHANES III adults ≥ 20 y (Kuczmarski,
  Carroll, Flegal & Troiano, Obes Res, "Varying body mass index cutoff points…").
* SD 7 cm for both sexes — **assumed**: NHANES reports give standard errors of the mean,
  not SDs (NOT FOUND).
* Correlation with weight: the slope of log weight on log height is 1.92 in men and 1.45 in
  women (Diverse Populations Collaboration 2005, Am J Phys Anthropol 128:220).  With
  log-height SD σ_h = 7/median and log-weight SD σ_w (the sampled weights' 0.198), the
  correlation is r = slope·σ_h/σ_w [C], and log height given log weight is normal with mean
  log(median) + r·σ_h/σ_w·(log w − log 74) and SD σ_h·√(1 − r²).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ketasim.covariates import Covariates

FloatArray = NDArray[np.float64]
HEIGHT_CM = {
    "median_men": 175.5,
    "median_women": 161.6,
    "sd": 7.0,
    "log_weight_on_log_height_slope_men": 1.92,
    "log_weight_on_log_height_slope_women": 1.45,
}
_LOG_WEIGHT_SD = float(np.sqrt(np.log1p(0.2**2)))
_MEDIAN_WEIGHT_KG = 74.0


def sample_height_cm(covariates: Covariates, rng: np.random.Generator) -> FloatArray:
    """Height (cm) of each patient given sex and weight, bounded to 140–210 cm."""
    female = covariates.female
    median = np.where(female, HEIGHT_CM["median_women"], HEIGHT_CM["median_men"])
    slope = np.where(
        female, HEIGHT_CM["log_weight_on_log_height_slope_women"], HEIGHT_CM["log_weight_on_log_height_slope_men"]
    )
    sd_log = HEIGHT_CM["sd"] / median
    r = np.clip(slope * sd_log / _LOG_WEIGHT_SD, -0.95, 0.95)
    z_weight = (np.log(covariates.weight_kg) - np.log(_MEDIAN_WEIGHT_KG)) / _LOG_WEIGHT_SD
    log_h = np.log(median) + r * sd_log * z_weight + sd_log * np.sqrt(1 - r**2) * rng.standard_normal(covariates.n)
    height: FloatArray = np.clip(np.exp(log_h), 140.0, 210.0)
    return height
