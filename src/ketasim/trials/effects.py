"""Model-based trial statistics: standardised effect sizes, the Cox hazard ratio and a mixed
model for repeated measures — the estimates papers report.

* Cohen's d with the pooled SD, Hedges' g = J·d with J = 1 − 3/(4(n₁+n₂) − 9) and
  SE(g) = √((n₁+n₂)/(n₁n₂) + g²/(2(n₁+n₂))) (Hedges & Olkin 1985; Borenstein et al. 2009,
  *Introduction to Meta-Analysis*, ch. 4); within one arm, the standardised mean change
  d_z = mean/SD with SE √(1/n + d_z²/(2n));
* hazard ratio by Cox proportional hazards, statsmodels ``PHReg`` (Efron ties), Wald CI;
* MMRM: statsmodels ``MixedLM`` (REML) on the observed changes, fixed effects day and
  day × arm with the centred baseline as covariate, a random intercept per patient
  (compound-symmetric within-patient covariance — a documented simplification of the
  unstructured covariance of most trial reports).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from ketasim.trials.statistics import Z95, Comparison, Estimate

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
NAN_ESTIMATE = Estimate(math.nan, (math.nan, math.nan))
NAN_COMPARISON = Comparison(math.nan, (math.nan, math.nan), math.nan)


def standardised_change(change: FloatArray) -> Estimate:
    """d_z = mean/SD of one arm's changes, with its normal-approximation 95% CI."""
    x = change[np.isfinite(change)]
    n = x.size
    sd = float(np.std(x, ddof=1)) if n > 1 else 0.0
    if n < 2 or sd == 0:
        return NAN_ESTIMATE
    d = float(np.mean(x)) / sd
    se = math.sqrt(1.0 / n + d * d / (2.0 * n))
    return Estimate(d, (d - Z95 * se, d + Z95 * se))


def hedges_g(arm: FloatArray, control: FloatArray) -> tuple[Comparison, float]:
    """(Hedges' g of arm − control with 95% CI and the pooled-variance t-test p, Cohen's d)."""
    a, c = arm[np.isfinite(arm)], control[np.isfinite(control)]
    n1, n2 = a.size, c.size
    if n1 < 2 or n2 < 2:
        return NAN_COMPARISON, math.nan
    pooled = math.sqrt(((n1 - 1) * np.var(a, ddof=1) + (n2 - 1) * np.var(c, ddof=1)) / (n1 + n2 - 2))
    if pooled == 0:
        return NAN_COMPARISON, math.nan
    d = float(np.mean(a) - np.mean(c)) / pooled
    g = (1.0 - 3.0 / (4.0 * (n1 + n2) - 9.0)) * d
    se = math.sqrt((n1 + n2) / (n1 * n2) + g * g / (2.0 * (n1 + n2)))
    t = d * math.sqrt(n1 * n2 / (n1 + n2))
    p = float(2 * stats.t.sf(abs(t), n1 + n2 - 2))
    return Comparison(g, (g - Z95 * se, g + Z95 * se), p), d


def cox_hazard_ratio(time: FloatArray, event: BoolArray, treated: BoolArray) -> Comparison:
    """Hazard ratio (treated vs not) from a Cox model (statsmodels PHReg, Efron ties): the
    ratio, its Wald 95% CI and p."""
    from statsmodels.duration.hazard_regression import PHReg

    if event.sum() == 0 or treated.all() or not treated.any():
        return NAN_COMPARISON
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = PHReg(
            np.asarray(time, float), treated.astype(float)[:, None], status=event.astype(float), ties="efron"
        ).fit()
    beta, se = float(fit.params[0]), float(fit.bse[0])
    if not (math.isfinite(beta) and math.isfinite(se)) or se > 1e3:
        return NAN_COMPARISON
    p = float(2 * stats.norm.sf(abs(beta / se)))
    return Comparison(math.exp(beta), (math.exp(beta - Z95 * se), math.exp(beta + Z95 * se)), p)


def mmrm(
    change: FloatArray,
    baseline: FloatArray,
    days: FloatArray,
    groups: Sequence[int],
    day: float,
) -> tuple[list[Estimate], list[Comparison]]:
    """LS-mean change at ``day`` per group and each group (1, 2, …) minus group 0.

    ``change`` (P, A) are observed changes (NaN where missing), ``baseline`` (P,), ``days``
    (A,) the post-baseline assessment days, ``groups`` (P,) 0 for the control.
    """
    from statsmodels.regression.mixed_linear_model import MixedLM

    g = np.asarray(groups)
    k = int(g.max()) + 1
    p, a = change.shape
    rows = np.isfinite(change)
    patient = np.broadcast_to(np.arange(p)[:, None], (p, a))[rows]
    visit = np.broadcast_to(np.arange(a)[None, :], (p, a))[rows]
    arm = g[patient]
    centred = (baseline - np.mean(baseline))[patient]
    # columns: a day means (the control's), then (k − 1) × a arm-by-day effects, then baseline
    x = np.zeros((patient.size, a * k + 1))
    x[np.arange(patient.size), visit] = 1.0
    treated = arm > 0
    x[np.flatnonzero(treated), a * arm[treated] + visit[treated]] = 1.0
    x[:, -1] = centred
    keep = np.asarray(x.any(axis=0), dtype=bool)
    keep[-1] = True
    if patient.size < x.shape[1] + 2 or np.unique(patient).size < 3:
        return [NAN_ESTIMATE] * k, [NAN_COMPARISON] * (k - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = MixedLM(change[rows], x[:, keep], groups=patient).fit(reml=True)
    names = np.flatnonzero(keep)
    params = np.full(x.shape[1], math.nan)
    params[names] = np.asarray(fit.fe_params)
    cov = np.full((x.shape[1], x.shape[1]), math.nan)
    cov[np.ix_(names, names)] = np.asarray(fit.cov_params())[: names.size, : names.size]
    j = int(np.flatnonzero(np.isclose(days, day))[0])
    estimates, comparisons = [], []
    for group in range(k):
        c = np.zeros(x.shape[1])
        c[j] = 1.0
        if group > 0:
            c[a * group + j] = 1.0
        estimates.append(_contrast(params, cov, c).estimate)
        if group > 0:
            diff = np.zeros(x.shape[1])
            diff[a * group + j] = 1.0
            comparisons.append(_contrast(params, cov, diff).comparison)
    return estimates, comparisons


class _Contrast:
    def __init__(self, value: float, se: float) -> None:
        self.value, self.se = value, se

    @property
    def estimate(self) -> Estimate:
        return Estimate(self.value, (self.value - Z95 * self.se, self.value + Z95 * self.se))

    @property
    def comparison(self) -> Comparison:
        p = float(2 * stats.norm.sf(abs(self.value / self.se))) if self.se > 0 else math.nan
        return Comparison(self.value, (self.value - Z95 * self.se, self.value + Z95 * self.se), p)


def _contrast(params: FloatArray, cov: FloatArray, c: FloatArray) -> _Contrast:
    used = c != 0
    value = float(c[used] @ params[used])
    var = float(c[used] @ cov[np.ix_(used, used)] @ c[used])
    return _Contrast(value, math.sqrt(var) if var >= 0 else math.nan)
