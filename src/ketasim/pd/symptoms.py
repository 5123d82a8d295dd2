"""From the cascade (and placebo, antidepressant) to symptom scores on clinicians' scales.

Severity is tracked as the fraction of baseline that remains.  The three treatment
mechanisms reduce log-severity additively (**assumed**: independent actions):

    D(t)         = A_m(t) + w_slow·S(t)     ketamine drive: AMPA path with mood lag τ_mood (hours) + synapses (days)
    remaining(t) = exp(−[ g·g_d·E_max·D/(D_50 + D)              saturating drive
                        + h·(p_session·X(t) + p_sustained·Y(t))   expectancy: per session + sustained
                        + k·s_max·Z(t)                            oral antidepressant onset
                        + Σ_c g_c·E_c·Z_c(t) ])                   empirical comparators (ECT, …)
    score(t)     = baseline × remaining(t), bounded by the scale's range

A is the AMPA index and S the synapse index (:mod:`ketasim.pd.cascade`); X sums a
decaying kick at each clinic session (× ``midazolam_factor`` for an active placebo, × 0
for a visit without a dose; τ 12 h, SYNAPSE placebo); Y rises from the first session with τ 16.8 d (Posternak &
Zimmerman 2005); Z rises from the antidepressant's start with τ 20 d (Taylor 2006).
Benefit that builds over a series comes from the synapse index S alone, which carries from
one session to the next (τ of days).  A separate series memory (a sensitisation of the drug
gain by recent sessions) was calibrated until 2026-12-07 and dropped: the targets put its gain
on its floor, unidentified (docs/model.md §8).
g_d is the drug's efficacy relative to racemic ketamine at the same drive: 1 for racemic
ketamine, ``esketamine_drug_gain`` for esketamine (calibrated, shrunk toward 1; Bahji et al.
2021, J Affect Disord 278:542, found larger response and remission rate ratios for racemic
ketamine than for esketamine — plausibly the R-enantiomer's and its metabolites' actions
beyond NMDA blockade, Zanos et al. 2016; **assumed** structure: one multiplier).
g, h, k are patient gains (log-normal between-subject variability; all three fall with age
over 65, :func:`age_log_gain`) times the condition's multipliers and the design's context:
h × ``placebo_emergency_gain`` for trials enrolling at an emergency presentation (ASPIRE
I/II, Canuso 2018), × ``placebo.lead_in_gain`` for trials that randomise the non-responders
of an open-label prospective treatment phase (TRANSFORM-1/2/3, TRD2005; Jones et al. 2021
meta-regression) and × ``placebo.open_label_gain`` when patients know they receive active treatment (fixed at 1:
not identified by the targets);
k × ``ssri_resistance_factor`` per failed adequate antidepressant trial (STAR*D
remission falling from level to level, Rush 2006).  The comparator terms (ECT,
antipsychotic augmentation, an antidepressant switch) come from
:mod:`ketasim.pd.comparators`.  Scales share the latent severity of their domain: every
scale moves by the same fraction (**assumed**; no published cross-walk was found).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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
    placebo_emergency_gain: float
    placebo_open_label_gain: float
    placebo_lead_in_gain: float
    ssri_resistance: float
    esketamine_gain: float
    older_adult_gain: float

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
            ssri_onset_omega=p["ssri.onset_omega"],
            residual_sd=p["residual_sd_log"],
            drug_gain=p.get(f"condition_{condition}_drug_gain", 1.0),
            placebo_gain=p.get(f"condition_{condition}_placebo_gain", 1.0),
            ssri_gain=p.get(f"condition_{condition}_ssri_gain", 1.0),
            tau_mood_h=p["cascade.tau_mood_onset_h"],
            tau_session_h=p["placebo.tau_session_expectancy_h"],
            tau_sustained_h=p["placebo.tau_sustained_expectancy_days"] * 24.0,
            tau_ssri_onset_h=p["ssri.tau_onset_days"] * 24.0,
            inflammation_reduction=p["cascade.inflammation_gain_reduction"],
            placebo_emergency_gain=p["placebo_emergency_gain"],
            placebo_open_label_gain=p["placebo.open_label_gain"],
            placebo_lead_in_gain=p["placebo.lead_in_gain"],
            ssri_resistance=p["ssri_resistance_factor"],
            esketamine_gain=p["esketamine_drug_gain"],
            older_adult_gain=p["older_adult_response_gain"],
        )

    def placebo_context_gain(self, setting: str, open_label: bool, lead_in: bool) -> float:
        """The placebo multiplier of a design's context (an emergency presentation; open
        label; an open-label prospective treatment phase before randomisation, Jones et al.
        2021).  An inpatient stay alone does not raise it: the NIMH inpatient crossover
        trials with saline show almost no placebo response (Zarate 2006, Diazgranados 2010)."""
        gain = self.placebo_emergency_gain if setting == "emergency" else 1.0
        gain *= self.placebo_lead_in_gain if lead_in else 1.0
        return gain * (self.placebo_open_label_gain if open_label else 1.0)


OLDER_ADULT_FROM_YEARS = 65.0
"""Age from which treatment responses fall (the conventional older-adult threshold and
TRANSFORM-3's entry age)."""


def age_log_gain(age_years: FloatArray, params: EfficacyParameters) -> FloatArray:
    """Log multiplier (P,) of every treatment response (drug, placebo, antidepressant) with
    age: log(``older_adult_gain``) per decade over 65 (log-linear, **assumed** form). Older
    patients with TRD improve less on everything: TRANSFORM-3 (≥ 65 y) arms changed by −10
    (esketamine + AD) and −6 (AD + placebo) MADRS at day 28 against −19 and −16 in
    TRANSFORM-1/2 (Jones et al. 2022, Arch Womens Ment Health 25:313, Table 4), and the
    difference shrank from the 65–74 to the ≥ 75 subgroup (Ochs-Ross et al. 2020)."""
    decades = np.maximum(np.asarray(age_years, dtype=np.float64) - OLDER_ADULT_FROM_YEARS, 0.0) / 10.0
    result: FloatArray = decades * math.log(params.older_adult_gain)
    return result


def drug_gain(shares: Mapping[str, FloatArray], params: EfficacyParameters, n: int) -> FloatArray:
    """The drug term's multiplier per patient (P,): 1 for racemic ketamine, ``esketamine_gain``
    for esketamine, weighted by each drug's share of the course's blocking load (a course of
    both drugs gets the mean of the two, weighted by exposure)."""
    share = shares.get("esketamine")
    if share is None:
        return np.ones(n)
    return 1.0 + (params.esketamine_gain - 1.0) * np.broadcast_to(share, (n,))


def session_expectancy(
    times_h: FloatArray, session_h: Sequence[float], weights: Sequence[float] | FloatArray, tau_h: float
) -> FloatArray:
    """X(t): Σ_sessions weight·exp(−(t − t_s)/τ) for t > t_s (a rating at a session's start is
    taken before it); ``weights`` per session (S,)
    give (T,), per patient and session (P, S) give (P, T)."""
    t_s = np.asarray(session_h, dtype=np.float64)
    elapsed = np.asarray(times_h, dtype=np.float64)[None, :] - t_s[:, None]
    kernel = np.where(elapsed > 0.0, np.exp(-np.maximum(elapsed, 0.0) / tau_h), 0.0)  # (S, T)
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
    eta_bp: FloatArray | None = None
    """Log sensitivity of blood pressure and heart rate to NMDA occupancy."""
    bp_session_keys: NDArray[np.uint64] | None = None
    """Each patient's key for session-to-session BP variability (see :func:`bp_log_sensitivity`)."""
    bp_session_omega: float = 0.0
    """SD of the session-to-session log sensitivity of BP and heart rate (``bp_session_omega``)."""
    eta_entry: FloatArray | None = None
    """Log of the patient's true entry severity over the recorded entry score: the entry
    rating varies from visit to visit like every later one (−σ_res·z; see :func:`entry_severity`)."""

    @classmethod
    def typical(cls, n: int) -> PatientGains:
        """The typical patient(s): all random effects 0."""
        zeros = np.zeros(n)
        return cls(zeros, zeros, zeros, zeros, zeros, zeros, zeros)

    @classmethod
    def typical_at_age(cls, age_years: FloatArray, params: EfficacyParameters) -> PatientGains:
        """The typical patient(s) of each age: random effects 0, the responses lowered over 65
        (:func:`age_log_gain`; age is a covariate, not a random effect)."""
        zeros = np.zeros(np.size(age_years))
        age = age_log_gain(np.asarray(age_years, dtype=np.float64).reshape(-1), params)
        return cls(age, age, age, zeros, zeros, zeros, zeros)


def remaining_fraction(
    ampa: FloatArray,
    synapses: FloatArray,
    expectancy_session: FloatArray,
    expectancy_sustained: FloatArray,
    ssri_onset: FloatArray,
    params: EfficacyParameters,
    gains: PatientGains,
    drug_gain_modifier: FloatArray | None = None,
    comparator: FloatArray | None = None,
) -> FloatArray:
    """Fraction of baseline severity remaining (patients × times), in (0, 1]; ``comparator``
    is Σ_c g_c·E_c·Z_c(t) (:func:`ketasim.pd.comparators.comparator_drive`);
    ``drug_gain_modifier`` multiplies the drug gain per patient (P,): the drug's own gain
    (esketamine against racemic) and high inflammation."""
    g = params.drug_gain * np.exp(gains.eta_drug)[:, None]
    if drug_gain_modifier is not None:
        g = g * drug_gain_modifier[:, None]
    h = params.placebo_gain * np.exp(gains.eta_placebo)[:, None]
    k = params.ssri_gain * np.exp(gains.eta_ssri)[:, None]
    drive = ampa + params.slow_weight * synapses
    drug = g * params.emax * drive / (params.d50 + drive)
    placebo = h * (params.placebo_session * expectancy_session + params.placebo_sustained * expectancy_sustained)
    ssri = k * params.ssri_effect * ssri_onset
    other = 0.0 if comparator is None else comparator
    result: FloatArray = np.exp(-(drug + placebo + ssri + other))
    return result


def entry_severity(recorded: FloatArray, eta_entry: FloatArray | None) -> FloatArray:
    """The severity a course starts from (P,): the recorded entry score × exp(η_entry).  A
    trial's entry rating carries the same visit-to-visit variability (rater and day-to-day
    state, ``residual_sd_log``) as every later rating, so a change from baseline is the
    difference of two noisy ratings, and a patient rated high at entry is, on average,
    less ill than the rating says (regression to the mean); without it the simulated SDs of
    change miss the entry rating's share of the variance."""
    base = np.asarray(recorded, dtype=np.float64)
    return base if eta_entry is None else base * np.exp(eta_entry)


def score(remaining: FloatArray, baseline: FloatArray, scale_name: str) -> FloatArray:
    """Scale score from remaining fraction and each patient's baseline, within the scale range."""
    return scale(scale_name).bounded(np.asarray(baseline)[:, None] * remaining)
