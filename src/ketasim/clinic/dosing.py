"""Method and dose by the published schedules (every number from ``data/clinic/schedules.yaml``).

* IV racemic ketamine: 0.5 mg/kg over 40 min by actual body weight (ideal or adjusted body
  weight as an option for BMI ≥ 30), an induction series, a taper and maintenance boosters,
  with an escalation path that never exceeds 1.0 mg/kg.
* Esketamine nasal spray (Spravato label): 56 mg on day 1 (28 mg at 65 or over), then twice
  weekly in weeks 1–4, weekly in weeks 5–8, every two weeks from week 9; 84 mg twice weekly
  for 4 weeks for suicidal ideation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ketasim.clinic._data import value
from ketasim.clinic.patient import PatientFile
from ketasim.clinic.rules import RuleSet, default_rules
from ketasim.regimens import KetamineSessions

DEPRESSION = ("trd", "mdd", "suicidal_ideation", "bipolar_depression")


def _v(*path: str) -> Any:
    return value("schedules", *path)


def _mg(x: float) -> float:
    """A dose for display, to 0.01 mg, rounded down (never above its bound)."""
    return math.floor(x * 100.0 + 1e-9) / 100.0


@dataclass(frozen=True)
class Session:
    """One planned session: day (0 = first), dose, infusion duration (0 for nasal), phase."""

    day: float
    dose_mg: float
    duration_min: float
    phase: str
    dose_mg_per_kg: float | None = None

    def report(self) -> SessionPlan:
        """The session as the plan reports it (dose to 0.01 mg, rounded down)."""
        return SessionPlan(
            day=self.day,
            dose_mg=_mg(self.dose_mg),
            duration_min=self.duration_min,
            phase=self.phase,
            dose_mg_per_kg=self.dose_mg_per_kg,
        )


class SessionPlan(BaseModel):
    """One planned session: day (0 = first), dose, infusion duration (0 for nasal), phase."""

    day: float
    dose_mg: float
    duration_min: float
    phase: str
    dose_mg_per_kg: float | None = None


class EscalationStep(BaseModel):
    """A dose step the clinician may take, and when."""

    when: str
    dose_mg: float
    dose_mg_per_kg: float | None = None


class RegimenReport(BaseModel):
    """The method, its sessions and why (``sessions`` is empty when nothing is planned)."""

    drug: str
    route: str
    sessions: list[SessionPlan]
    reasons: list[str]
    dosing_weight_kg: float | None = None
    escalation: list[EscalationStep] = []
    notes: list[str] = []


@dataclass(frozen=True)
class Regimen:
    """The proposed method and its sessions."""

    drug: str
    route: str
    sessions: tuple[Session, ...]
    reasons: tuple[str, ...]
    dosing_weight_kg: float
    escalation: tuple[EscalationStep, ...]
    notes: tuple[str, ...]

    @property
    def induction(self) -> tuple[Session, ...]:
        """The induction sessions."""
        return tuple(s for s in self.sessions if s.phase == "induction")

    def treatment(self, phases: tuple[str, ...] = ("induction", "taper", "maintenance")) -> list[KetamineSessions]:
        """The sessions of ``phases`` as model regimens (one item per distinct dose)."""
        items: list[KetamineSessions] = []
        chosen = [s for s in self.sessions if s.phase in phases]
        for dose in sorted({s.dose_mg for s in chosen}):
            days = tuple(s.day for s in chosen if s.dose_mg == dose)
            if self.route == "iv":
                duration = next(s.duration_min for s in chosen if s.dose_mg == dose)
                items.append(KetamineSessions(dose_mg=dose, duration_min=duration, days=days))
            else:
                items.append(KetamineSessions(drug="esketamine", route="intranasal", dose_mg=dose, days=days))
        return items

    def report(self) -> RegimenReport:
        """The regimen as the plan reports it."""
        return RegimenReport(
            drug=self.drug,
            route=self.route,
            sessions=[s.report() for s in self.sessions],
            reasons=list(self.reasons),
            dosing_weight_kg=round(self.dosing_weight_kg, 2),
            escalation=list(self.escalation),
            notes=list(self.notes),
        )


def ideal_body_weight_kg(height_cm: float, female: bool) -> float:
    """Devine 1974 (Drug Intell Clin Pharm 8:650): 50 kg (men) or 45.5 kg (women) + 2.3 kg per
    inch over 5 ft; at least 40 kg (**assumed** floor for short stature)."""
    inches_over = max(0.0, height_cm / 2.54 - 60.0)
    return max(40.0, (45.5 if female else 50.0) + 2.3 * inches_over)


def dosing_weight_kg(patient: PatientFile, rules: RuleSet | None = None) -> float:
    """Actual, ideal or adjusted body weight (IBW + 0.4 × (actual − IBW)), as the file asks;
    ideal and adjusted apply only when BMI ≥ 30 (otherwise actual)."""
    obesity = (rules or default_rules()).thresholds["obesity_bmi_kg_m2"].value
    if patient.weight_basis == "actual" or patient.bmi_kg_m2 < obesity:
        return patient.weight_kg
    ibw = ideal_body_weight_kg(patient.height_cm, patient.sex == "female")
    if patient.weight_basis == "ideal":
        return min(ibw, patient.weight_kg)
    factor = float(_v("iv", "adjusted_weight_factor"))
    return min(patient.weight_kg, ibw + factor * (patient.weight_kg - ibw))


def propose_method(patient: PatientFile, rules: RuleSet | None = None) -> tuple[str, str, tuple[str, ...]]:
    """(drug, route, reasons): the clinic's choice if given, else by indication."""
    if patient.treatment is not None:
        return patient.treatment.drug, patient.treatment.route, ("method chosen by the clinic (patient file)",)
    trd = patient.failed_antidepressant_trials >= (rules or default_rules()).thresholds["trd_failed_trials"].value
    dx = patient.condition
    if dx == "suicidal_ideation":
        return (
            "esketamine",
            "intranasal",
            (
                "esketamine nasal spray is approved for depressive symptoms with acute suicidal ideation "
                "(Spravato label)",
            ),
        )
    if dx in ("trd", "mdd") and trd:
        return (
            "esketamine",
            "intranasal",
            (
                "treatment-resistant depression (>= 2 failed trials): esketamine nasal spray is the approved, "
                "label-scheduled option (Spravato label); IV racemic ketamine is the off-label alternative",
                "supervised self-administration in a REMS-certified setting",
            ),
        )
    reason = (
        f"{dx}: the evidence is for IV racemic ketamine 0.5 mg/kg over 40 min (off-label); esketamine is "
        "approved only for TRD and depression with suicidal ideation"
        if dx not in ("trd", "mdd")
        else "fewer than 2 failed trials: esketamine's TRD indication does not apply; IV ketamine would be "
        "off-label and needs review (not first-line)"
    )
    return "racemic_ketamine", "iv", (reason,)


def _iv(patient: PatientFile, reasons: tuple[str, ...], rules: RuleSet) -> Regimen:
    weight = dosing_weight_kg(patient, rules)
    per_kg = _v("iv", "dose_mg_per_kg")
    duration = _v("iv", "duration_min")
    sessions = [Session(d, per_kg * weight, duration, "induction", per_kg) for d in _v("iv", "induction_days")]
    sessions += [Session(d, per_kg * weight, duration, "taper", per_kg) for d in _v("iv", "taper_days")]
    sessions += [Session(d, per_kg * weight, duration, "maintenance", per_kg) for d in _v("iv", "maintenance_days")]
    escalation = tuple(
        EscalationStep(
            when=f"no response after session {step['after_session']}",
            dose_mg=_mg(step["dose_mg_per_kg"] * weight),
            dose_mg_per_kg=step["dose_mg_per_kg"],
        )
        for step in _v("iv", "escalation")
    )
    notes = [f"dose by {patient.weight_basis} body weight ({weight:.1f} kg)"]
    if patient.bmi_kg_m2 >= rules.thresholds["obesity_bmi_kg_m2"].value:
        ibw = ideal_body_weight_kg(patient.height_cm, patient.sex == "female")
        notes.append(
            f"BMI {patient.bmi_kg_m2:.1f}: ideal body weight {ibw:.1f} kg would give "
            f"{per_kg * min(ibw, patient.weight_kg):.1f} mg"
        )
    return Regimen("racemic_ketamine", "iv", tuple(sessions), reasons, weight, escalation, tuple(notes))


def _esketamine(patient: PatientFile, reasons: tuple[str, ...], rules: RuleSet) -> Regimen:
    older = patient.age_years >= rules.thresholds["older_adult_age_years"].value
    if patient.condition == "suicidal_ideation":
        dose = _v("esketamine", "mdsi_dose_mg")
        sessions = [Session(d, dose, 0.0, "induction") for d in _v("esketamine", "induction_days")]
        mdsi = ("suicidal ideation: 84 mg twice weekly for 4 weeks; may be reduced to 56 mg; longer not studied",)
        return Regimen("esketamine", "intranasal", tuple(sessions), reasons, patient.weight_kg, (), mdsi)
    first = _v("esketamine", "first_dose_mg_65_plus" if older else "first_dose_mg")
    later = _v("esketamine", "later_dose_mg_65_plus" if older else "later_dose_mg")
    days = _v("esketamine", "induction_days")
    sessions = [Session(days[0], first, 0.0, "induction")]
    sessions += [Session(d, later, 0.0, "induction") for d in days[1:]]
    sessions += [Session(d, later, 0.0, "taper") for d in _v("esketamine", "weekly_days")]
    sessions += [Session(d, later, 0.0, "maintenance") for d in _v("esketamine", "maintenance_days")]
    step_mg = float(_v("esketamine", "escalation_dose_mg"))
    escalation = (EscalationStep(when=f"insufficient response after a tolerated {later:g} mg dose", dose_mg=step_mg),)
    notes: tuple[str, ...] = ("each 28 mg device is 2 sprays; 5 minutes between devices",)
    if older:
        notes += ("65 or over: 28 mg on day 1, then 28, 56 or 84 mg in 28 mg steps",)
    return Regimen("esketamine", "intranasal", tuple(sessions), reasons, patient.weight_kg, escalation, notes)


def plan_regimen(patient: PatientFile, rules: RuleSet | None = None) -> Regimen:
    """The regimen for the patient: method (given or proposed), doses and session days."""
    rs = rules or default_rules()
    _drug, route, reasons = propose_method(patient, rs)
    return _iv(patient, reasons, rs) if route == "iv" else _esketamine(patient, reasons, rs)
