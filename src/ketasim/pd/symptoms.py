"""From the cascade (and placebo, antidepressant) to symptom scores on clinicians' scales.

Severity is tracked as the fraction of baseline that remains.  The three treatment
mechanisms reduce log-severity additively (**assumed**: independent actions):

    D(t)         = A_m(t) + w_slow·S(t)     ketamine drive: AMPA path with mood lag τ_mood (hours) + synapses (days)
    remaining(t) = exp(−[ g·E_max·D/(D_50 + D)               saturating: more sessions add less (Singh 2016)
                        + h·(p_session·X(t) + p_sustained·Y(t))   expectancy: per session + sustained
                        + k·s_max·Z(t)                            oral antidepressant onset
                        + Σ_c g_c·E_c·Z_c(t) ])                   empirical comparators (ECT, …)
    score(t)     = baseline × remaining(t), bounded by the scale's range

A is the AMPA index and S the synapse index (:mod:`ketasim.pd.cascade`); X sums a
decaying kick at each clinic session (× ``midazolam_factor`` for an active placebo,
τ 12 h, SYNAPSE placebo); Y rises from the first session with τ 7 d (Posternak &
Zimmerman 2005); Z rises from the antidepressant's start with τ 20 d (Taylor 2006).
g, h, k are patient gains (log-normal between-subject variability) times the
condition's multipliers; the comparator terms (ECT, antipsychotic augmentation, an
antidepressant switch) come from :mod:`ketasim.pd.comparators`.  Scales share the latent
severity of their domain: every scale moves by the same fraction (**assumed**; no published cross-walk was found).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ketasim.params import ParameterSet
from ketasim.vocabulary import condition as condition_entry
from ketasim.vocabulary import scale

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class EfficacyParameters:
    """Weights, time constants and variability of the symptom layer, for one condition."""

    emax: float
    d50: float
    slow_weight: float
    drug_omega: float
    placebo_session: float
    placebo_sustained: float
    midazolam_factor: float
    placebo_omega: float
    ssri_effect: float
    ssri_omega: float
    ssri_onset_omega: float
    residual_sd: float
    drug_gain: float
    placebo_gain: float
    ssri_gain: float
    tau_mood_h: float
    tau_session_h: float
    tau_sustained_h: float
    tau_ssri_onset_h: float
    inflammation_reduction: float

    @classmethod
    def from_params(cls, p: ParameterSet, condition: str) -> EfficacyParameters:
        """The values for ``condition`` (its multipliers are 1 where none was fitted)."""
        condition_entry(condition)
        return cls(
            emax=p["efficacy_emax"],
            d50=p["efficacy_d50"],
            slow_weight=p["efficacy_slow_weight"],
            drug_omega=p["drug_gain_omega"],
            placebo_session=p["placebo_session_effect"],
            placebo_sustained=p["placebo_sustained_effect"],
            midazolam_factor=p["midazolam_factor"],
            placebo_omega=p["placebo_gain_omega"],
            ssri_effect=p["ssri_effect"],
            ssri_omega=p["ssri_gain_omega"],
            ssri_onset_omega=p["ssri_onset_omega"],
            residual_sd=p["residual_sd_log"],
            drug_gain=p.get(f"condition_{condition}_drug_gain", 1.0),
            placebo_gain=p.get(f"condition_{condition}_placebo_gain", 1.0),
            ssri_gain=p.get(f"condition_{condition}_ssri_gain", 1.0),
            tau_mood_h=p["tau_mood_onset_h"],
            tau_session_h=p["placebo.tau_session_expectancy_h"],
            tau_sustained_h=p["placebo.tau_sustained_expectancy_days"] * 24.0,
            tau_ssri_onset_h=p["ssri.tau_onset_days"] * 24.0,
            inflammation_reduction=p["cascade.inflammation_gain_reduction"],
        )


def session_expectancy(
    times_h: FloatArray, session_h: Sequence[float], weights: Sequence[float] | FloatArray, tau_h: float
) -> FloatArray:
    """X(t): Σ_sessions weight·exp(−(t − t_s)/τ) for t ≥ t_s; ``weights`` per session (S,)
    give (T,), per patient and session (P, S) give (P, T)."""
    t_s = np.asarray(session_h, dtype=np.float64)
    elapsed = np.asarray(times_h, dtype=np.float64)[None, :] - t_s[:, None]
    kernel = np.where(elapsed >= 0.0, np.exp(-np.maximum(elapsed, 0.0) / tau_h), 0.0)  # (S, T)
    w = np.asarray(weights, dtype=np.float64)
    if t_s.size == 0:
        return np.zeros(np.shape(times_h) if w.ndim < 2 else (w.shape[0], np.size(times_h)))
    x: FloatArray = w @ kernel
    return x


def rising(times_h: FloatArray, start_h: float | None, tau_h: float | FloatArray) -> FloatArray:
    """1 − exp(−(t − start)/τ) after ``start_h`` (0 before, and everywhere if None); a τ per
    patient (P,) gives a (P, T) result."""
    if start_h is None:
        return np.zeros_like(times_h) if np.ndim(tau_h) == 0 else np.zeros((np.size(tau_h), times_h.size))
    elapsed = np.maximum(times_h - start_h, 0.0)
    tau = np.asarray(tau_h, dtype=np.float64)
    if tau.ndim:
        elapsed = elapsed[None, :]
        tau = tau[:, None]
    return np.where(elapsed > 0, -np.expm1(-elapsed / tau), 0.0)


def observe(scores: FloatArray, scale_name: str, residual_sd: float, rng: np.random.Generator) -> FloatArray:
    """Scores as a rater records them: the model's score × exp(ε), ε ~ N(0, σ²) per visit
    (residual visit-to-visit variability, calibrated), within the scale's range."""
    noisy = scores * np.exp(residual_sd * rng.standard_normal(scores.shape))
    return scale(scale_name).bounded(noisy)


@dataclass(frozen=True)
class PatientGains:
    """Between-subject random effects (log scale) of the symptom layer, one per patient."""

    eta_drug: FloatArray
    eta_placebo: FloatArray
    eta_ssri: FloatArray
    eta_dissociation: FloatArray
    eta_ssri_onset: FloatArray | None = None
    z_comparator: FloatArray | None = None
    """Standard-normal effect of an empirical comparator (each comparator applies its own ω)."""

    @classmethod
    def typical(cls, n: int) -> PatientGains:
        """The typical patient(s): all random effects 0."""
        zeros = np.zeros(n)
        return cls(zeros, zeros, zeros, zeros, zeros, zeros)


def remaining_fraction(
    ampa: FloatArray,
    synapses: FloatArray,
    expectancy_session: FloatArray,
    expectancy_sustained: FloatArray,
    ssri_onset: FloatArray,
    params: EfficacyParameters,
    gains: PatientGains,
    plasticity_modifier: FloatArray | None = None,
    comparator: FloatArray | None = None,
) -> FloatArray:
    """Fraction of baseline severity remaining (patients × times), in (0, 1]; ``comparator``
    is Σ_c g_c·E_c·Z_c(t) (:func:`ketasim.pd.comparators.comparator_drive`)."""
    g = params.drug_gain * np.exp(gains.eta_drug)[:, None]
    if plasticity_modifier is not None:
        g = g * plasticity_modifier[:, None]
    h = params.placebo_gain * np.exp(gains.eta_placebo)[:, None]
    k = params.ssri_gain * np.exp(gains.eta_ssri)[:, None]
    drive = ampa + params.slow_weight * synapses
    drug = g * params.emax * drive / (params.d50 + drive)
    placebo = h * (params.placebo_session * expectancy_session + params.placebo_sustained * expectancy_sustained)
    ssri = k * params.ssri_effect * ssri_onset
    other = 0.0 if comparator is None else comparator
    result: FloatArray = np.exp(-(drug + placebo + ssri + other))
    return result


def score(remaining: FloatArray, baseline: FloatArray, scale_name: str) -> FloatArray:
    """Scale score from remaining fraction and each patient's baseline, within the scale range."""
    return scale(scale_name).bounded(np.asarray(baseline)[:, None] * remaining)
