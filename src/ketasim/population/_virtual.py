"""Virtual patients: covariates, PK random effects, symptom-layer gains and baselines, from a seed.

Covariate distributions (documented in docs/trials.md):

* weight: log-normal, median 74 kg, CV 20%, bounded to 45–150 kg — median from the
  Perez-Ruixo 2021 analysis population (74 kg, range 39–170); the CV is **assumed**;
* age: normal truncated to [min, max], by default mean 45, SD 12, 18–75 years — mean from
  Perez-Ruixo 2021 (median 45, range 18–86); SD **assumed**; a design sets its own
  (``population.age_mean``, ``age_sd``, ``age_min``, ``age_max``);
* sex: 58.4% women (Perez-Ruixo 2021), or the design's fraction;
* setting (outpatient, inpatient, emergency) and suicidal ideation at entry (a fraction of
  patients): descriptors of the design, carried with each patient;
* height: see :data:`HEIGHT_CM` — normal by sex, correlated with weight.

PK random effects use each model's published ω (``iiv_cv_pct`` in ``data/pk``); the
symptom layer's (drug, placebo, antidepressant, onset, dissociation) use the calibrated ω's.
Baselines are normal around the design's mean with SD = 15% of it (**assumed**, in line
with SYNAPSE's baseline SDs 3.8–6.3 on MADRS 31–35), within the scale's range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr, ndtri

from ketasim.covariates import Covariates
from ketasim.params import ParameterSet
from ketasim.pd.symptoms import EfficacyParameters, PatientGains, age_log_gain
from ketasim.pk import load_model, sample_etas
from ketasim.population._height import sample_height_cm
from ketasim.vocabulary import condition as condition_entry
from ketasim.vocabulary import names, scale

FloatArray = NDArray[np.float64]
BASELINE_CV = 0.15
POPULATION_WEIGHT_RANGE_KG = (45.0, 150.0)
"""Weights of virtual patients are bounded to this range (docstring above)."""


Setting = Literal["outpatient", "inpatient", "emergency"]


@dataclass(frozen=True)
class Demographics:
    """Who a virtual population is drawn from (defaults: the Perez-Ruixo 2021 analysis
    population, see the module docstring)."""

    age_mean: float = 45.0
    age_sd: float = 12.0
    age_min: float = 18.0
    age_max: float = 75.0
    female_fraction: float = 0.584
    failed_trials: tuple[int, int] | None = None
    """None: the condition's range (``vocabulary.yaml``)."""
    setting: Setting = "outpatient"
    suicidal_ideation_fraction: float = 0.0
    open_label: bool = False
    """Patients know they receive active treatment (open-label series, clinic care)."""
    lead_in: bool = False
    """The patients are the non-responders of an open-label prospective treatment phase
    before randomisation (a trial design feature; raises the placebo response)."""


def truncated_normal(z: FloatArray, mean: float, sd: float, low: float, high: float) -> FloatArray:
    """Standard normal draws ``z`` mapped to a normal(mean, sd) truncated to [low, high] (by
    their quantiles, so every draw lands inside and none piles up at a bound)."""
    a, b = ndtr((low - mean) / sd), ndtr((high - mean) / sd)
    x: FloatArray = np.clip(mean + sd * ndtri(a + ndtr(z) * (b - a)), low, high)
    return x


def sample_covariates(n: int, rng: np.random.Generator, demographics: Demographics = Demographics()) -> Covariates:
    """Draw ``n`` adult patients (see module docstring for the distributions)."""
    d = demographics
    weight = np.clip(74.0 * np.exp(rng.normal(0.0, np.sqrt(np.log1p(0.2**2)), n)), *POPULATION_WEIGHT_RANGE_KG)
    age = truncated_normal(rng.standard_normal(n), d.age_mean, d.age_sd, d.age_min, d.age_max)
    female = rng.random(n) < d.female_fraction
    return Covariates(weight_kg=weight, age_years=age, female=female)


def sample_baselines(
    n: int, means: Mapping[str, float], rng: np.random.Generator, cv: float = BASELINE_CV
) -> dict[str, FloatArray]:
    """Baseline scores per scale: normal around the mean with SD = cv × mean, within the
    scale's range."""
    return {name: scale(name).bounded(mean + cv * mean * rng.standard_normal(n)) for name, mean in means.items()}


@dataclass(frozen=True)
class Seeds:
    """Independent random streams for one population (common random numbers across arms)."""

    covariates: np.random.Generator
    pk: np.random.Generator
    gains: np.random.Generator
    baselines: np.random.Generator
    height: np.random.Generator
    history: np.random.Generator
    sessions: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int | Sequence[int]) -> Seeds:
        """Seven child streams of one seed (or of a tuple such as (seed, replicate, chunk));
        a stream added later is a later child, so earlier streams keep their numbers."""
        children = np.random.SeedSequence(seed).spawn(7)
        return cls(*(np.random.default_rng(c) for c in children))


@dataclass(frozen=True)
class VirtualPopulation:
    """P virtual patients of one condition: everything the model needs, one entry per patient.

    Random effects are kept as standard normals (``gain_z``, ``baseline_z``) so that the
    same patients can be re-scored with other ω's (the calibration does).
    """

    condition: str
    covariates: Covariates
    height_cm: FloatArray
    pk_etas: dict[str, dict[str, FloatArray]]
    gain_z: FloatArray  # (8, P): drug, placebo, antidepressant, dissociation, antidepressant onset, comparator, BP,
    # entry rating
    baseline_z: FloatArray  # (P,)
    baseline_means: dict[str, float]
    failed_trials: NDArray[np.int64]
    suicidal_ideation: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    setting: Setting = "outpatient"
    open_label: bool = False
    lead_in: bool = False
    session_keys: NDArray[np.uint64] = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    """One key per patient for session-to-session random effects (:func:`session_normals`)."""

    @property
    def n(self) -> int:
        """Number of patients."""
        return self.covariates.n

    def gains(self, params: ParameterSet) -> PatientGains:
        """Patient-level effects (log scale): the parameter set's ω × the patients' z, plus
        the context of the design (placebo: setting and frame; antidepressant: failed trials)
        and the patient's age (every response, over 65); the entry rating's own visit
        variability (:func:`~ketasim.pd.symptoms.entry_severity`)."""
        efficacy = EfficacyParameters.from_params(params, self.condition)
        z = self.gain_z
        context = math.log(efficacy.placebo_context_gain(self.setting, self.open_label, self.lead_in))
        age = age_log_gain(self.covariates.age_years, efficacy)
        return PatientGains(
            eta_drug=efficacy.drug_omega * z[0] + age,
            eta_placebo=efficacy.placebo_omega * z[1] + context + age,
            eta_ssri=efficacy.ssri_omega * z[2] + self.failed_trials * math.log(efficacy.ssri_resistance) + age,
            eta_dissociation=params["adverse.cadss_omega"] * z[3],
            eta_ssri_onset=efficacy.ssri_onset_omega * z[4],
            z_comparator=z[5],
            eta_bp=params["adverse.bp_omega"] * z[6],
            bp_session_keys=self.session_keys if self.session_keys.size == self.n else None,
            bp_session_omega=params["bp_session_omega"],
            eta_entry=-efficacy.residual_sd * z[7],
        )

    @property
    def baselines(self) -> dict[str, FloatArray]:
        """Baseline score per scale: mean + 15% of the mean × z, within the scale's range."""
        return {
            name: scale(name).bounded(mean * (1.0 + BASELINE_CV * self.baseline_z))
            for name, mean in self.baseline_means.items()
        }

    def take(self, index: NDArray[np.intp] | slice) -> VirtualPopulation:
        """The patients at ``index`` (a chunk, or one patient)."""
        c = self.covariates
        return replace(
            self,
            covariates=Covariates(c.weight_kg[index], c.age_years[index], c.female[index]),
            height_cm=self.height_cm[index],
            pk_etas={d: {k: v[index] for k, v in e.items()} for d, e in self.pk_etas.items()},
            gain_z=self.gain_z[:, index],
            baseline_z=self.baseline_z[index],
            failed_trials=self.failed_trials[index],
            suicidal_ideation=self.suicidal_ideation[index],
            session_keys=self.session_keys[index] if self.session_keys.size else self.session_keys,
        )


def typical_gains(params: ParameterSet, condition: str, n: int = 1, age_years: float | None = None) -> PatientGains:
    """The typical patient of ``condition`` in an outpatient, blinded setting: every random
    effect 0, the antidepressant's effect lowered for the midpoint of the condition's range
    of failed trials, and every response lowered for ``age_years`` over 65 (when given)."""
    lo, hi = condition_entry(condition).failed_trials
    efficacy = EfficacyParameters.from_params(params, condition)
    typical = PatientGains.typical_at_age(np.full(n, 0.0 if age_years is None else float(age_years)), efficacy)
    return replace(typical, eta_ssri=typical.eta_ssri + 0.5 * (lo + hi) * math.log(efficacy.ssri_resistance))


def sample_population(
    n: int,
    seed: int | Sequence[int],
    condition: str,
    baseline_means: Mapping[str, float],
    demographics: Demographics = Demographics(),
) -> VirtualPopulation:
    """``n`` patients of ``condition``, reproducible from ``seed``.

    ``demographics.failed_trials`` (lo, hi) draws each patient's failed antidepressant trials
    in the current episode uniformly in [lo, hi] (a design's inclusion criterion; default:
    the condition's range); the oral antidepressant's effect falls with this count.

    >>> p = sample_population(3, 7, "trd", {"MADRS": 32})
    >>> p.n, sorted(p.pk_etas)
    (3, ['esketamine', 'racemic_ketamine'])
    """
    seeds = Seeds.from_seed(seed)
    failed = demographics.failed_trials or condition_entry(condition).failed_trials
    cov = sample_covariates(n, seeds.covariates, demographics)
    drugs = names("drugs")
    pk_streams = np.random.SeedSequence(int(seeds.pk.integers(2**63))).spawn(len(drugs))
    pk_etas = {
        drug: sample_etas(load_model(drug).spec, n, np.random.default_rng(s))
        for drug, s in zip(drugs, pk_streams, strict=True)
    }
    return VirtualPopulation(
        condition=condition,
        covariates=cov,
        height_cm=sample_height_cm(cov, seeds.height),
        pk_etas=pk_etas,
        gain_z=seeds.gains.standard_normal((8, n)),  # rows are drawn in order: earlier rows unchanged by later ones
        baseline_z=seeds.baselines.standard_normal(n),
        baseline_means=dict(baseline_means),
        failed_trials=seeds.history.integers(failed[0], failed[1] + 1, n),
        suicidal_ideation=seeds.history.random(n) < demographics.suicidal_ideation_fraction,
        setting=demographics.setting,
        open_label=demographics.open_label,
        lead_in=demographics.lead_in,
        session_keys=seeds.sessions.integers(0, 2**63, n, dtype=np.uint64),
    )
