"""Independent reference solvers for the tests, written from the published equations.

Nothing here calls ketasim's solvers or model code (``ketasim.model``, ``ketasim.pd.cascade``,
``ketasim.pd._filters``, ``ketasim.pk._linear``/``_march``/``_structures``): parameter VALUES
are read from the packaged files (``ketasim.pk.load_pk_file``, ``ketasim.params``), every
equation is written out below from docs/model.md and integrated with scipy's ``solve_ivp``
(LSODA, rtol 1e-10, atol 1e-12), restarting at every dose start and end with the dose as a
constant input rate (a bolus as a jump in the state).

Two entry points:

* :func:`reference_solution` — any linear or non-linear ``dx/dt = rhs(t, x) + inputs`` with
  dose events (used by the PK solver tests);
* :func:`simulate_iv_course` — one patient, a racemic-ketamine IV course: plasma ketamine and
  norketamine, free brain concentrations, NMDA occupancy, the plasticity cascade, the mood
  drive, the dissociation-tolerance index and the acute adaptation of dissociation; :func:`madrs`
  and :func:`cadss` turn those into
  the symptom score and dissociation (docs/model.md §6).

Racemic ketamine (Clements & Nimmo 1981 parent + Perez-Ruixo 2021 surrogate norketamine,
docs §1.1, §1.3, §1.4), time in h, amounts in mg, concentrations in mg/L = 1000 ng/mL:

    dA1/dt  = −(CL + Q)/V1·A1 + Q/V2·A2 + R_iv(t)
    dA2/dt  = Q/V1·A1 − Q/V2·A2
    dM1/dt  = fm·CL/V1·A1 − (CLm + Qm)/Vm1·M1 + Qm/Vm2·M2
    dM2/dt  = Qm/Vm1·M1 − Qm/Vm2·M2
    dCe/dt  = ke0·(Ca − Ce)  per analyte,  ke0 = ln 2 / t½,ke0
    Ca      = Cp + R_iv(t)/Qco for ketamine (arterial front end, Henthorn 2018), Cp for norketamine
    C_free(species) = fraction × fu × Ce[ng/mL] / molar mass   (µM)
    O       = L/(1 + L),  L = Σ C_free,i/K_i
    θ = θ_70·(WT/70)^0.75 for clearances and flows (CL, Q, CLm, Qm, Qco), ^1 for volumes; no sex
    effect (Kamp 2020)

The cascade (docs §6; normalisers n_* make each index 1 at its peak after one standard
infusion, 0.5 mg/kg over 40 min in a 70 kg 40-year-old man, computed stage by stage):

    dI/dt  = (O − I)/τ_I;   dGa/dt = (I − Ga)/τ_adapt;   surge = max(I − Ga, 0)
    dA/dt  = (surge/n_A − A)/τ_A;   dB/dt = (A/n_B − B)/τ_B;   dM/dt = (B/(1 + B)/n_M − M)/τ_M
    dP/dt  = (M/n_P − P)/τ_P;   dSf/dt = (P/n_S − Sf)/τ_Sf;   dSs/dt = f·Sf/τ_Sf − Ss/τ_Ss
    dN/dt  = ((Sf + Ss)/n_N − N)/τ_N;   glutamate = rise·surge/n_surge
    dD/dt  = (A − D)/τ_mood;   dT/dt = O/AUC₁ − T/τ_tol
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp
from scipy.optimize import minimize_scalar

from ketasim.params import default_parameters
from ketasim.pk import load_pk_file

FloatArray = NDArray[np.float64]
Rhs = Callable[[float, FloatArray], FloatArray]
Event = tuple[float, int, float, float]
"""(start_h, state index, amount, duration_h); duration 0 = bolus (a jump in the state)."""
Infusion = tuple[float, float, float]
"""(start_h, dose_mg, duration_h) of one IV infusion of racemic ketamine."""

METHOD = "LSODA"
RTOL = 1e-10
ATOL = 1e-12
_SLIVER_H = 1e-12  # h: knots closer than this are one knot that rounding split in two
STANDARD_DOSE_MG_PER_KG = 0.5
STANDARD_DURATION_H = 40.0 / 60.0
STANDARD_HORIZON_H = 24.0 * 28.0
"""Normalisers and AUC₁ come from one standard infusion followed to 28 days."""


# --------------------------------------------------------------------------------------------
# Generic piecewise integration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One stretch of constant inputs, with solve_ivp's dense output (None if of zero length)."""

    t0: float
    t1: float
    y0: FloatArray
    y1: FloatArray
    dense: Any

    def at(self, t: float | FloatArray) -> FloatArray:
        """States at ``t`` inside the segment, from solve_ivp's dense output."""
        if self.dense is None:
            return np.asarray(self.y0)
        y: FloatArray = np.asarray(self.dense(t), dtype=np.float64)
        return y


def _march(
    rhs: Rhs,
    y0: FloatArray,
    events: Sequence[Event],
    t_end: float,
    *,
    method: str = METHOD,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> list[Segment]:
    """Integrate ``dx/dt = rhs(t, x) + u(t)`` from 0 to ``t_end``, ``u`` piecewise constant
    (each event adds amount/duration to its state between start and start + duration, or a
    jump of ``amount`` at start for a bolus), restarting solve_ivp at every jump of ``u``."""
    breaks = {0.0, float(t_end)}
    for start, _, _, duration in events:
        breaks.add(float(start))
        if duration > 0:
            breaks.add(float(start + duration))
    knots = sorted(b for b in breaks if 0.0 <= b <= t_end)
    y = np.array(y0, dtype=np.float64)
    segments: list[Segment] = []
    for a, b in zip(knots[:-1], [*knots[1:]], strict=True):
        for start, index, amount, duration in events:
            if duration <= 0 and start == a:
                y[index] += amount
        u = np.zeros_like(y)
        for start, index, amount, duration in events:
            if duration > 0 and start <= a < start + duration:
                u[index] += amount / duration

        def f(t: float, x: FloatArray, u: FloatArray = u) -> FloatArray:
            return rhs(t, x) + u

        if b - a < _SLIVER_H:
            # two knots one rounding apart (3.8166666666666664 vs 3.816666666666667 h):
            # nothing happens in between, and LSODA fails on so short a span
            segments.append(Segment(a, b, y.copy(), y.copy(), None))
            continue
        sol = solve_ivp(f, (a, b), y, method=method, rtol=rtol, atol=atol, dense_output=True)
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed on [{a}, {b}] h: {sol.message}")
        y1 = np.array(sol.y[:, -1])
        segments.append(Segment(a, b, y.copy(), y1, sol.sol))
        y = y1
    # a bolus exactly at t_end still counts for the value at t_end
    for start, index, amount, duration in events:
        if duration <= 0 and start == t_end:
            y[index] += amount
    segments.append(Segment(t_end, t_end, y.copy(), y.copy(), None))
    return segments


def _values(segments: Sequence[Segment], times_h: FloatArray) -> FloatArray:
    """States (n_states × times) at ``times_h``; at a knot, the value just after it."""
    n = segments[0].y0.size
    out = np.zeros((n, times_h.size))
    starts = np.array([s.t0 for s in segments])
    for j, t in enumerate(times_h):
        k = int(np.searchsorted(starts, t, side="right")) - 1
        if k < 0:
            raise ValueError(f"time {t} h before 0")
        seg = segments[k]
        if t > seg.t1:
            raise ValueError(f"time {t} h after the end of the integration")
        out[:, j] = seg.y0 if t == seg.t0 else seg.y1 if t == seg.t1 else seg.at(t)
    return out


def reference_solution(rhs: Rhs, n_states: int, events: Sequence[Event], times_h: FloatArray) -> FloatArray:
    """Integrate dx/dt = rhs(t, x) + dose inputs with solve_ivp (LSODA, rtol 1e-10, atol 1e-14)
    from x(0) = 0, restarting at every dose time and infusion end (bolus = jump in the state).
    Returns times × states."""
    times = np.asarray(times_h, dtype=np.float64)
    segments = _march(rhs, np.zeros(n_states), events, float(times.max()), atol=1e-14)
    out: FloatArray = _values(segments, times).T
    return out


def _peak(segments: Sequence[Segment], quantity: Callable[[FloatArray], FloatArray], samples: int = 200) -> float:
    """Maximum over time of ``quantity(states)``: sampled densely on every segment, then
    refined by bounded Brent search on the dense output around the best sample."""
    best, where = -math.inf, (0.0, 0.0, segments[0])
    for seg in segments:
        if seg.dense is None or seg.t1 <= seg.t0:
            continue
        t = np.linspace(seg.t0, seg.t1, samples)
        y = seg.at(t)
        y[:, 0], y[:, -1] = seg.y0, seg.y1
        q = quantity(y)
        k = int(np.argmax(q))
        if q[k] > best:
            best = float(q[k])
            where = (float(t[max(k - 1, 0)]), float(t[min(k + 1, samples - 1)]), seg)
    lo, hi, seg = where
    if hi > lo:
        res = minimize_scalar(
            lambda s: -float(quantity(seg.at(s)[:, None])[0]),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-10 * max(1.0, hi)},
        )
        best = max(best, -float(res.fun))
    return best


# --------------------------------------------------------------------------------------------
# Racemic ketamine: parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Patient:
    """Covariates of one patient (age has no effect in the racemic model, docs §1.4)."""

    weight_kg: float = 70.0
    age_years: float = 40.0
    female: bool = False


CLEARANCES = ("CL_L_h", "Q_L_h", "CLm_L_h", "Qm_L_h", "Qco_L_h")
VOLUMES = ("V1_L", "V2_L", "Vm1_L", "Vm2_L")
"""Covariate model of docs/model.md §1.4 (Anderson & Holford 2008; no sex effect, Kamp 2020),
written here rather than read from the file so the file's covariate entries are checked too."""


def pk_parameters(patient: Patient = Patient()) -> dict[str, float]:
    """Individual Clements 1981 + norketamine parameters (h, L, mg) of a typical patient
    (no random effects), with ``ke0_per_h`` and the species' fractions, unbound fractions and
    molar masses flattened into ``species``-keyed entries."""
    f = load_pk_file("clements_1981")
    v = {name: float(entry.value) for name, entry in f.parameters.items()}
    p = {name: v[name] for name in (*CLEARANCES, *VOLUMES, "fm", "ke0_half_life_min")}
    for name in CLEARANCES:
        p[name] *= (patient.weight_kg / 70.0) ** 0.75
    for name in VOLUMES:
        p[name] *= patient.weight_kg / 70.0
    p["ke0_per_h"] = math.log(2.0) / (p["ke0_half_life_min"] / 60.0)
    molar = {a.name: float(a.molar_mass_g_mol) for a in f.analytes}
    for s in f.species:
        p[f"fraction.{s.name}"] = float(s.fraction)
        p[f"fu.{s.name}"] = v[s.unbound_fraction]
        p[f"molar.{s.name}"] = molar[s.analyte]
        p[f"analyte.{s.name}"] = 0.0 if s.analyte == "ketamine" else 1.0
    return p


def species_names() -> tuple[str, ...]:
    """The receptor-active species of racemic ketamine, as in the PK file."""
    return tuple(s.name for s in load_pk_file("clements_1981").species)


@dataclass(frozen=True)
class Mechanism:
    """Receptor affinities and cascade time constants (h), from the parameter set."""

    ki_um: tuple[tuple[str, float], ...]
    tau_i: float
    tau_adapt: float
    glutamate_rise: float
    tau_a: float
    tau_b: float
    tau_m: float
    tau_p: float
    tau_sf: float
    stable_fraction: float
    tau_ss: float
    tau_n: float
    tau_mood: float
    tau_tol: float
    tau_acute: float


def mechanism() -> Mechanism:
    """Values from :func:`ketasim.params.default_parameters` (units converted to hours)."""
    p = default_parameters()
    return Mechanism(
        ki_um=tuple((s, float(p[f"receptor.Ki_{s}_um"])) for s in species_names()),
        tau_i=p["cascade.tau_disinhibition_min"] / 60.0,
        tau_adapt=p["tau_glutamate_adaptation_min"] / 60.0,
        glutamate_rise=p["cascade.glutamate_peak_rise"],
        tau_a=p["cascade.tau_ampa_h"],
        tau_b=p["cascade.tau_bdnf_h"],
        tau_m=p["cascade.tau_mtorc1_h"],
        tau_p=p["cascade.tau_synaptic_protein_h"],
        tau_sf=p["cascade.tau_spine_transient_h"],
        stable_fraction=p["cascade.spine_stable_fraction"],
        tau_ss=p["cascade.tau_spine_stable_days"] * 24.0,
        tau_n=p["cascade.tau_network_h"],
        tau_mood=p["cascade.tau_mood_onset_h"],
        tau_tol=p["adverse.tau_tolerance_days"] * 24.0,
        tau_acute=p["dissociation_acute_tau_min"] / 60.0,
    )


# --------------------------------------------------------------------------------------------
# Racemic ketamine: the ODE system
# --------------------------------------------------------------------------------------------

STATES = (
    "A1", "A2", "M1", "M2", "Ce_ketamine", "Ce_norketamine",
    "disinhibition", "adaptation", "ampa", "bdnf", "mtorc1", "synaptic_proteins",
    "spines_transient", "spines_stable", "network", "mood_drive_fast", "dissociation_tolerance", "occupancy_auc",
    "acute_adaptation",
)  # fmt: skip
IDX = {name: i for i, name in enumerate(STATES)}
NORMALISERS = ("surge", "ampa", "bdnf", "mtorc1", "synaptic_proteins", "synapses", "network")


def _occupancy(y: FloatArray, pk: Mapping[str, float], mech: Mechanism) -> FloatArray:
    """NMDA occupancy from the effect-site concentrations (mg/L) in ``y`` (states × …)."""
    load = np.zeros_like(np.asarray(y[IDX["Ce_ketamine"]], dtype=np.float64))
    for s, ki in mech.ki_um:
        ce = y[IDX["Ce_norketamine"]] if pk[f"analyte.{s}"] else y[IDX["Ce_ketamine"]]
        free_um = pk[f"fraction.{s}"] * pk[f"fu.{s}"] * 1000.0 * ce / pk[f"molar.{s}"]
        load = load + free_um / ki
    return load / (1.0 + load)


def _rhs(pk: Mapping[str, float], mech: Mechanism, n: Mapping[str, float], auc1: float) -> Rhs:
    """Right-hand side of the whole chain for one patient (inputs added by the caller)."""
    k10 = pk["CL_L_h"] / pk["V1_L"]
    k12 = pk["Q_L_h"] / pk["V1_L"]
    k21 = pk["Q_L_h"] / pk["V2_L"]
    kf = pk["fm"] * pk["CL_L_h"] / pk["V1_L"]
    km = pk["CLm_L_h"] / pk["Vm1_L"]
    km12 = pk["Qm_L_h"] / pk["Vm1_L"]
    km21 = pk["Qm_L_h"] / pk["Vm2_L"]
    ke0, v1, vm1 = pk["ke0_per_h"], pk["V1_L"], pk["Vm1_L"]
    m = mech
    gain_ss = m.stable_fraction / m.tau_sf
    # receptor load per mg/L of effect-site ketamine and norketamine: Σ fraction·fu·1000/(molar mass·K_i)
    load_per = [0.0, 0.0]
    for s, ki in m.ki_um:
        load_per[int(pk[f"analyte.{s}"])] += pk[f"fraction.{s}"] * pk[f"fu.{s}"] * 1000.0 / (pk[f"molar.{s}"] * ki)
    lk, ln = load_per

    def rhs(t: float, y: FloatArray) -> FloatArray:
        a1, a2, m1, m2, ce_k, ce_n, i, ga, a, b, mt, pr, sf, ss, net, d, _tol, _auc, x_acute = y
        load = lk * ce_k + ln * ce_n
        occ = load / (1.0 + load)
        surge = max(i - ga, 0.0)
        return np.array(
            [
                -(k10 + k12) * a1 + k21 * a2,
                k12 * a1 - k21 * a2,
                kf * a1 - (km + km12) * m1 + km21 * m2,
                km12 * m1 - km21 * m2,
                ke0 * (a1 / v1 - ce_k),
                ke0 * (m1 / vm1 - ce_n),
                (occ - i) / m.tau_i,
                (i - ga) / m.tau_adapt,
                (surge / n["ampa"] - a) / m.tau_a,
                (a / n["bdnf"] - b) / m.tau_b,
                (b / (1.0 + b) / n["mtorc1"] - mt) / m.tau_m,
                (mt / n["synaptic_proteins"] - pr) / m.tau_p,
                (pr / n["synapses"] - sf) / m.tau_sf,
                gain_ss * sf - ss / m.tau_ss,
                ((sf + ss) / n["network"] - net) / m.tau_n,
                (a - d) / m.tau_mood,
                occ / auc1 - _tol / m.tau_tol,
                occ,
                (occ - x_acute) / m.tau_acute,
            ]
        )

    return rhs


def _solve(
    infusions: Sequence[Infusion], t_end: float, patient: Patient, n: Mapping[str, float], auc1: float
) -> tuple[list[Segment], dict[str, float], Mechanism]:
    pk = pk_parameters(patient)
    mech = mechanism()
    events = [(float(s), IDX["A1"], float(dose), float(dur)) for s, dose, dur in infusions]
    # the front end: while an infusion runs, Ce_ketamine is driven by R/Qco more than by Cp
    events += [
        (float(s), IDX["Ce_ketamine"], pk["ke0_per_h"] * float(dose) / pk["Qco_L_h"], float(dur))
        for s, dose, dur in infusions
    ]
    segments = _march(_rhs(pk, mech, n, auc1), np.zeros(len(STATES)), events, t_end)
    return segments, pk, mech


def _standard() -> list[Infusion]:
    return [(0.0, STANDARD_DOSE_MG_PER_KG * 70.0, STANDARD_DURATION_H)]


@cache
def normalisers() -> dict[str, float]:
    """Peak of every cascade stage after one standard infusion, stage by stage: each stage's
    normaliser is set before the next is computed (so every index peaks at exactly 1), plus
    ``auc1`` = ∫₀^28d O dt of that infusion (h)."""
    n = dict.fromkeys(NORMALISERS, 1.0)
    i = IDX
    stage_quantity: dict[str, Callable[[FloatArray], FloatArray]] = {
        "surge": lambda y: np.maximum(y[i["disinhibition"]] - y[i["adaptation"]], 0.0),
        "ampa": lambda y: y[i["ampa"]],
        "bdnf": lambda y: y[i["bdnf"]],
        "mtorc1": lambda y: y[i["mtorc1"]],
        "synaptic_proteins": lambda y: y[i["synaptic_proteins"]],
        "synapses": lambda y: y[i["spines_transient"]] + y[i["spines_stable"]],
        "network": lambda y: y[i["network"]],
    }
    segments: list[Segment] = []
    for stage in NORMALISERS:
        if stage != "ampa":  # the surge and A come from the same run (A's input is the raw surge)
            segments, _, _ = _solve(_standard(), STANDARD_HORIZON_H, Patient(), n, 1.0)
        n[stage] = _peak(segments, stage_quantity[stage])
    n["auc1"] = float(segments[-1].y1[IDX["occupancy_auc"]])
    return n


def simulate_iv_course(
    infusions: Sequence[Infusion], times_h: Sequence[float] | FloatArray, patient: Patient = Patient()
) -> dict[str, FloatArray]:
    """Every output of the chain at ``times_h`` for one patient given IV racemic ketamine
    (``infusions``: (start_h, dose_mg, duration_h)).  Keys: ``ketamine``, ``norketamine``
    (plasma, ng/mL), each species' free brain concentration (µM), ``nmda_occupancy``,
    ``disinhibition``, ``glutamate`` (fraction above baseline), ``ampa``, ``bdnf``,
    ``mtorc1``, ``synaptic_proteins``, ``spines_transient``, ``spines_stable``, ``synapses``,
    ``network`` (indices), ``mood_drive_fast``, ``dissociation_tolerance`` and ``acute_adaptation``."""
    times = np.asarray(times_h, dtype=np.float64)
    n = normalisers()
    segments, pk, mech = _solve(infusions, float(times.max()), patient, n, n["auc1"])
    y = _values(segments, times)
    out = {
        "ketamine": 1000.0 * y[IDX["A1"]] / pk["V1_L"],
        "norketamine": 1000.0 * y[IDX["M1"]] / pk["Vm1_L"],
        "nmda_occupancy": _occupancy(y, pk, mech),
        "glutamate": mech.glutamate_rise * np.maximum(y[IDX["disinhibition"]] - y[IDX["adaptation"]], 0.0) / n["surge"],
        "synapses": y[IDX["spines_transient"]] + y[IDX["spines_stable"]],
    }
    for s, _ in mech.ki_um:
        ce = y[IDX["Ce_norketamine"]] if pk[f"analyte.{s}"] else y[IDX["Ce_ketamine"]]
        out[s] = pk[f"fraction.{s}"] * pk[f"fu.{s}"] * 1000.0 * ce / pk[f"molar.{s}"]
    for name in (
        "disinhibition", "ampa", "bdnf", "mtorc1", "synaptic_proteins", "spines_transient", "spines_stable",
        "network", "mood_drive_fast", "dissociation_tolerance", "acute_adaptation",
    ):  # fmt: skip
        out[name] = y[IDX[name]]
    return out


# --------------------------------------------------------------------------------------------
# Symptom score and dissociation (docs/model.md §6), typical patient, no antidepressant
# --------------------------------------------------------------------------------------------


def madrs(
    states: Mapping[str, FloatArray],
    times_h: Sequence[float] | FloatArray,
    session_times_h: Sequence[float],
    baseline: float,
    condition: str = "trd",
    age_years: float = 40.0,
    *,
    session_weights: Sequence[float] | None = None,
    antidepressant_start_h: float | None = None,
) -> FloatArray:
    """Typical patient's score: baseline × exp(−[g·Emax·D/(D50 + D) + h·(p_s·X + p_y·Y) + s·Z])
    with D = mood drive + w_slow·synapses, g and
    the placebo gain h × older_adult_response_gain per decade of age over 65,
    X = Σ w_s·e^{−(t − t_s)/τ_session} (w_s = ``session_weights``, 1 each by default),
    Y = 1 − e^{−(t − t₀)/τ_sustained} from the first session or antidepressant start t₀, and
    Z = 1 − e^{−(t − t_AD)/τ_AD} for an antidepressant started at t_AD (s = ``ssri_effect``);
    within 0–60."""
    p = default_parameters()
    t = np.asarray(times_h, dtype=np.float64)

    def rising(t0: float | None, tau_h: float) -> FloatArray:
        if t0 is None:
            return np.zeros_like(t)
        out: FloatArray = np.where(t > t0, -np.expm1(-np.maximum(t - t0, 0.0) / tau_h), 0.0)
        return out

    drive = states["mood_drive_fast"] + p["efficacy_slow_weight"] * states["synapses"]
    older = p["older_adult_response_gain"] ** (max(age_years - 65.0, 0.0) / 10.0)  # per decade over 65
    g = older * p.get(f"condition_{condition}_drug_gain", 1.0)
    h = older * p.get(f"condition_{condition}_placebo_gain", 1.0)
    k = older * p.get(f"condition_{condition}_ssri_gain", 1.0)
    weights = [1.0] * len(session_times_h) if session_weights is None else list(session_weights)
    x = np.zeros_like(t)
    for ts, w in zip(session_times_h, weights, strict=True):
        x = x + w * np.where(t > ts, np.exp(-np.maximum(t - ts, 0.0) / p["placebo.tau_session_expectancy_h"]), 0.0)
    t0 = min([*session_times_h, *([] if antidepressant_start_h is None else [antidepressant_start_h])])
    y = rising(t0, p["placebo.tau_sustained_expectancy_days"] * 24.0)
    z = rising(antidepressant_start_h, p["ssri.tau_onset_days"] * 24.0)
    effect = g * p["efficacy_emax"] * drive / (p["efficacy_d50"] + drive)
    effect = effect + h * (p["placebo_session_effect"] * x + p["placebo_sustained_effect"] * y)
    effect = effect + k * p["ssri_effect"] * z
    score: FloatArray = np.clip(baseline * np.exp(-effect), 0.0, 60.0)
    return score


def cadss(
    states: Mapping[str, FloatArray],
    times_h: Sequence[float] | FloatArray,
    session_times_h: Sequence[float],
    tolerance_at_sessions: Sequence[float] | FloatArray,
) -> FloatArray:
    """Typical patient's CADSS: c_max·Dⁿ/(D50ⁿ + Dⁿ)/(1 + k_tol·T_in), within 0–92, with the
    dissociative drive D = max(O − γ·X, 0), X the acute adaptation, and T_in the tolerance the
    session under way started with (``tolerance_at_sessions``, T at each of ``session_times_h``),
    decayed on τ_tol since: the session's own exposure does not count."""
    p = default_parameters()
    t = np.asarray(times_h, dtype=np.float64)
    tau_h = p["adverse.tau_tolerance_days"] * 24.0
    carried = np.zeros_like(t)
    for ts, tol in zip(session_times_h, tolerance_at_sessions, strict=True):  # later sessions overwrite
        carried = np.where(t >= ts, tol * np.exp(-(t - ts) / tau_h), carried)
    adapted = p["adverse.dissociation_acute_fraction"] * states["acute_adaptation"]
    drive = np.maximum(states["nmda_occupancy"] - adapted, 0.0)
    d = drive ** p["adverse.cadss_hill"]
    value = p["cadss_max"] * d / (p["cadss_drive50"] ** p["adverse.cadss_hill"] + d)
    value = value / (1.0 + p["dissociation_tolerance_gain"] * carried)
    clipped: FloatArray = np.clip(value, 0.0, 92.0)
    return clipped
