"""SBML export of one patient's whole model, for COPASI, tellurium or libroadrunner users.

The document (SBML Level 3 Version 2, python-libsbml) holds, as rate rules on parameters:
the PK compartments and effect sites of every drug given (amounts in mg; effect sites in
mg/L), the cascade (:data:`ketasim.pd.cascade.ODE_STATES`), the mood drive, the
dissociation-tolerance tracker (and the tolerance carried into the session under way, set
by an event at each session's start) and the session-expectancy state; as assignment rules: NMDA
occupancy, the glutamate surge, the symptom score on each baseline scale, CADSS and blood
pressure/heart rate.  Doses are SBML events: a bolus adds to its compartment, an infusion
switches an input rate on at its start and off at its end.  Every value comes from the same
objects the simulator uses (:mod:`ketasim.model.odes`), for the scenario's typical patient.
"""

from __future__ import annotations

import math
from pathlib import Path

import libsbml
import numpy as np

from ketasim.covariates import Covariates
from ketasim.io.files import atomic_path
from ketasim.model.course import DEFAULT_VITALS, clinic_sessions, expose, session_kick
from ketasim.model.odes import CourseODE, course_odes
from ketasim.model.scenario import CRP_HIGH_MG_L, Scenario
from ketasim.params import ParameterSet, default_parameters
from ketasim.pd.adverse import AdverseParameters
from ketasim.pd.cascade import ODE_STATES
from ketasim.pd.symptoms import EfficacyParameters, drug_gain
from ketasim.population import typical_gains
from ketasim.regimens import KetamineSessions, OralAntidepressant
from ketasim.vocabulary import scale as scale_entry

STATE_IDS = {
    "disinhibition": "I",
    "adaptation": "Ga",
    "ampa": "ampa",
    "bdnf": "bdnf",
    "mtorc1": "mtorc1",
    "synaptic_proteins": "proteins",
    "spines_transient": "spines_transient",
    "spines_stable": "spines_stable",
    "network": "network",
}


def _sid(name: str) -> str:
    return "pk_" + "".join(c if c.isalnum() else "_" for c in name)


class _Builder:
    def __init__(self, name: str) -> None:
        self.doc = libsbml.SBMLDocument(3, 2)
        self.model = self.doc.createModel()
        self.model.setId("ketasim_patient")
        self.model.setName(name)
        self.model.setTimeUnits("dimensionless")
        c = self.model.createCompartment()
        c.setId("body")
        c.setConstant(True)
        c.setSize(1.0)
        c.setSpatialDimensions(3)

    def parameter(self, pid: str, value: float, *, constant: bool = True) -> None:
        p = self.model.createParameter()
        p.setId(pid)
        p.setValue(float(value))
        p.setConstant(constant)

    def rate_rule(self, pid: str, formula: str) -> None:
        r = self.model.createRateRule()
        r.setVariable(pid)
        r.setMath(self._math(formula))

    def assignment(self, pid: str, formula: str) -> None:
        self.parameter(pid, 0.0, constant=False)
        r = self.model.createAssignmentRule()
        r.setVariable(pid)
        r.setMath(self._math(formula))

    def event(self, eid: str, at_h: float, assignments: list[tuple[str, str]]) -> None:
        e = self.model.createEvent()
        e.setId(eid)
        e.setUseValuesFromTriggerTime(True)
        t = e.createTrigger()
        t.setInitialValue(False)
        t.setPersistent(True)
        t.setMath(self._math(f"time >= {at_h!r}"))
        for var, formula in assignments:
            a = e.createEventAssignment()
            a.setVariable(var)
            a.setMath(self._math(formula))

    @staticmethod
    def _math(formula: str) -> libsbml.ASTNode:
        ast = libsbml.parseL3Formula(formula)
        if ast is None:
            raise ValueError(f"bad formula {formula!r}: {libsbml.getLastParseL3Error()}")
        return ast


def _pk(b: _Builder, ode: CourseODE) -> list[str]:
    """PK states with rate rules from the rate matrix and input-rate parameters."""
    ids = [_sid(s) for s in ode.states[: ode.n_pk]]
    m = ode.rate_matrix_per_h
    for sid in ids:
        b.parameter(sid, 0.0, constant=False)
        b.parameter(f"input_{sid}", 0.0, constant=False)
    for i, sid in enumerate(ids):
        terms = [f"input_{sid}"]
        for j in np.flatnonzero(m[i]):
            b.parameter(f"M_{i}_{j}", m[i, j])
            terms.append(f"M_{i}_{j} * {ids[j]}")
        b.rate_rule(sid, " + ".join(terms))
    for k, (start, idx, amount, dur) in enumerate(ode.inputs):
        target = ids[idx]
        if dur == 0:
            b.event(f"dose_{k}", start, [(target, f"{target} + {amount!r}")])
        else:
            rate = amount / dur
            b.event(f"dose_{k}_on", start, [(f"input_{target}", f"input_{target} + {rate!r}")])
            b.event(f"dose_{k}_off", start + dur, [(f"input_{target}", f"input_{target} - {rate!r}")])
    return ids


def _cascade(b: _Builder, ode: CourseODE, pk_ids: list[str]) -> None:
    p, n = ode.cascade, ode.norm
    load = " + ".join(f"{pk_ids[i]} * {f!r} / {ode.ki_um[s]!r}" for s, (i, f) in ode.free_brain_um.items()) or "0"
    b.assignment("receptor_load", load)
    b.assignment("nmda_occupancy", "receptor_load / (1 + receptor_load)")
    for name in ODE_STATES:
        b.parameter(STATE_IDS[name], 0.0, constant=False)
    b.assignment("surge", "piecewise(I - Ga, I - Ga > 0, 0)")
    b.assignment("glutamate", f"{p.glutamate_peak_rise!r} * surge / {n['surge']!r}")
    b.assignment("synapses", "spines_transient + spines_stable")
    b.rate_rule("I", f"(nmda_occupancy - I) / {p.tau_disinhibition_h!r}")
    b.rate_rule("Ga", f"(I - Ga) / {p.tau_adapt_h!r}")
    b.rate_rule("ampa", f"(surge / {n['ampa']!r} - ampa) / {p.tau_ampa_h!r}")
    b.rate_rule("bdnf", f"(ampa / {n['bdnf']!r} - bdnf) / {p.tau_bdnf_h!r}")
    b.rate_rule("mtorc1", f"(bdnf / (1 + bdnf) / {n['mtorc1']!r} - mtorc1) / {p.tau_mtorc1_h!r}")
    b.rate_rule("proteins", f"(mtorc1 / {n['synaptic_proteins']!r} - proteins) / {p.tau_protein_h!r}")
    b.rate_rule("spines_transient", f"(proteins / {n['synapses']!r} - spines_transient) / {p.tau_spine_transient_h!r}")
    b.rate_rule(
        "spines_stable",
        f"{p.stable_fraction!r} * spines_transient / {p.tau_spine_transient_h!r}"
        f" - spines_stable / {p.tau_spine_stable_h!r}",
    )
    b.rate_rule("network", f"((spines_transient + spines_stable) / {n['network']!r} - network) / {p.tau_network_h!r}")
    b.parameter("mood_drive_fast", 0.0, constant=False)
    b.rate_rule("mood_drive_fast", f"(ampa - mood_drive_fast) / {ode.tau_mood_h!r}")
    b.parameter("dissociation_tolerance", 0.0, constant=False)
    b.rate_rule(
        "dissociation_tolerance",
        f"nmda_occupancy / {ode.auc_one_session_h!r} - dissociation_tolerance / {ode.tau_tolerance_h!r}",
    )
    b.parameter("dissociation_adaptation", 0.0, constant=False)
    b.rate_rule("dissociation_adaptation", f"(nmda_occupancy - dissociation_adaptation) / {ode.tau_acute_h!r}")
    drive = f"nmda_occupancy - {ode.acute_fraction!r} * dissociation_adaptation"
    b.assignment("dissociative_drive", f"piecewise({drive}, {drive} > 0, 0)")


def _rising(start_h: float | None, tau_h: float) -> str:
    if start_h is None:
        return "0"
    return f"piecewise(1 - exp(-(time - {start_h!r}) / {tau_h!r}), time > {start_h!r}, 0)"


def _drug_gain(scenario: Scenario, params: ParameterSet) -> float:
    """The drug term's multiplier for the scenario's patient (:func:`ketasim.pd.symptoms.drug_gain`):
    each drug's share of the blocking load, from the package's own exposure of that patient."""
    if not any(isinstance(i, KetamineSessions) and i.drug == "esketamine" for i in scenario.treatment):
        return 1.0
    p = scenario.patient
    exposure = expose(
        scenario.treatment,
        Covariates.one(p.weight_kg, p.age_years, p.sex),
        24.0 * scenario.follow_up_days,
        params=params,
    )
    eff = EfficacyParameters.from_params(params, p.condition)
    return float(drug_gain(exposure.drug_shares, eff, 1)[0])


def _symptoms(b: _Builder, scenario: Scenario, params: ParameterSet) -> None:
    patient = scenario.patient
    eff = EfficacyParameters.from_params(params, patient.condition)
    sessions = clinic_sessions(scenario.treatment)
    tau_x = eff.tau_session_h
    b.parameter("session_expectancy", 0.0, constant=False)
    b.rate_rule("session_expectancy", f"-session_expectancy / {tau_x!r}")
    for k, (t_s, kind) in enumerate(sessions):
        w = session_kick(kind, eff.midazolam_factor)
        b.event(f"session_{k}", t_s, [("session_expectancy", f"session_expectancy + {w!r}")])
    ads = [i for i in scenario.treatment if isinstance(i, OralAntidepressant) and i.newly_started]
    ad_start = 24.0 * min(a.start_day for a in ads) if ads else None
    starts = [t for t, _ in sessions] + ([ad_start] if ad_start is not None else [])
    b.assignment(
        "sustained_expectancy",
        _rising(min(starts) if starts else None, eff.tau_sustained_h),
    )
    b.assignment("antidepressant_onset", _rising(ad_start, eff.tau_ssri_onset_h))
    typical = typical_gains(params, patient.condition, age_years=patient.age_years)
    g = eff.drug_gain * math.exp(float(typical.eta_drug[0])) * _drug_gain(scenario, params)
    if patient.crp_mg_l is not None and patient.crp_mg_l >= CRP_HIGH_MG_L:
        g *= 1.0 - eff.inflammation_reduction
    h = eff.placebo_gain * math.exp(float(typical.eta_placebo[0]))
    k_ssri = eff.ssri_gain * math.exp(float(typical.eta_ssri[0]))
    b.assignment("drive", f"mood_drive_fast + {eff.slow_weight!r} * synapses")
    b.assignment(
        "remaining_fraction",
        f"exp(-({g!r} * {eff.emax!r} * drive / ({eff.d50!r} + drive)"
        f" + {h!r} * ({eff.placebo_session!r} * session_expectancy"
        f" + {eff.placebo_sustained!r} * sustained_expectancy)"
        f" + {k_ssri!r} * {eff.ssri_effect!r} * antidepressant_onset))",
    )
    for name, baseline in patient.baseline.items():
        s = scale_entry(name)
        raw = f"{baseline!r} * remaining_fraction"
        b.assignment(
            "score_" + "".join(c if c.isalnum() else "_" for c in name),
            f"piecewise({s.min!r}, {raw} < {s.min!r}, {s.max!r}, {raw} > {s.max!r}, {raw})",
        )


def _side_effects(b: _Builder, scenario: Scenario, params: ParameterSet) -> None:
    a = AdverseParameters.from_params(params)
    vit = {**DEFAULT_VITALS, **scenario.patient.vitals.model_dump()}
    d, o = "dissociative_drive", "nmda_occupancy"
    b.parameter("dissociation_tolerance_in", 0.0, constant=False)  # carried into the session under way
    b.rate_rule("dissociation_tolerance_in", f"-dissociation_tolerance_in / {a.tau_tolerance_h!r}")
    for k, (t_s, _) in enumerate(clinic_sessions(scenario.treatment)):
        b.event(f"tolerance_in_{k}", t_s, [("dissociation_tolerance_in", "dissociation_tolerance")])
    cadss = (
        f"{a.cadss_max!r} * {d}^{a.cadss_hill!r} / ({a.cadss_d50!r}^{a.cadss_hill!r} + {d}^{a.cadss_hill!r})"
        f" / (1 + {a.tolerance_gain!r} * dissociation_tolerance_in)"
    )
    b.assignment("cadss", f"piecewise(92, {cadss} > 92, {cadss})")
    hill = f"{o}^{a.bp_hill!r} / ({a.bp_o50!r}^{a.bp_hill!r} + {o}^{a.bp_hill!r})"
    b.assignment("sbp_mmhg", f"{vit['systolic_mmhg']!r} + {a.sbp_max!r} * {hill}")
    b.assignment("dbp_mmhg", f"{vit['diastolic_mmhg']!r} + {a.dbp_max!r} * {hill}")
    b.assignment("heart_rate_bpm", f"{vit['heart_rate_bpm']!r} + {a.hr_max!r} * {hill}")


def scenario_sbml(scenario: Scenario, params: ParameterSet | None = None) -> str:
    """The scenario's patient (typical: no random effects) as an SBML L3V2 document."""
    params = params or default_parameters()
    p = scenario.patient
    cov = Covariates.one(p.weight_kg, p.age_years, p.sex)
    ode = course_odes(scenario.treatment, cov, params=params)
    b = _Builder(scenario.name)
    pk_ids = _pk(b, ode)
    for analyte, (i, factor) in ode.plasma_ng_ml.items():
        b.assignment(f"plasma_{analyte}_ng_ml", f"{pk_ids[i]} * {factor!r}")
    _cascade(b, ode, pk_ids)
    _symptoms(b, scenario, params)
    _side_effects(b, scenario, params)
    if b.doc.checkInternalConsistency() and b.doc.getNumErrors(libsbml.LIBSBML_SEV_ERROR):
        raise ValueError(b.doc.getErrorLog().toString())
    return str(libsbml.writeSBMLToString(b.doc))


def write_sbml(scenario: Scenario, path: str | Path, params: ParameterSet | None = None) -> Path:
    """Write :func:`scenario_sbml` atomically to ``path``."""
    text = scenario_sbml(scenario, params)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
