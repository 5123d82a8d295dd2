"""Method and dose by the published schedules (every number from ``data/clinic/schedules.yaml``).

* IV racemic ketamine: 0.5 mg/kg over 40 min by actual body weight (ideal or adjusted body
  weight as an option for BMI ≥ 30), an induction series, a taper to the patient's
  maintenance interval, with an escalation path that never exceeds 1.0 mg/kg.
* Esketamine nasal spray (Spravato label): 56 mg on day 1 (28 mg at 65 or over), then twice
  weekly in weeks 1–4 (induction), weekly in weeks 5–8 (the label's maintenance phase), every
  two weeks or weekly from week 9; 84 mg twice weekly for 4 weeks for suicidal ideation.
* Off-label racemic ketamine by mouth (Domany 2019), under the tongue (Lara 2013) or into a
  muscle (Loo 2016), only when the clinic chooses it, flagged off-label.

The maintenance interval is chosen by :mod:`ketasim.clinic.maintenance` from the patient's
forecast; :meth:`Regimen.with_interval` lays the sessions out for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel

from ketasim.clinic._data import value
from ketasim.clinic.patient import PatientFile
from ketasim.clinic.rules import RuleSet, default_rules
from ketasim.errors import PlannerError

DEPRESSION = ("trd", "mdd", "suicidal_ideation", "bipolar_depression")


def _v(*path: str) -> Any:
    return value("schedules", *path)


def _mg(x: float) -> float:
    """A dose for display, to 0.01 mg, rounded down (never above its bound)."""
    return math.floor(x * 100.0 + 1e-9) / 100.0


@dataclass(frozen=True)
class Session:
    """One planned session: day (0 = first), dose, infusion duration (None unless infused),
    phase (``induction``, ``taper``, ``maintenance``) and how the schedule names it."""

    day: float
    dose_mg: float
    duration_min: float | None
    phase: str
    label: str
    dose_mg_per_kg: float | None = None

    def report(self) -> SessionPlan:
        """The session as the plan reports it (dose to 0.01 mg, rounded down)."""
        return SessionPlan(
            day=self.day,
            dose_mg=_mg(self.dose_mg),
            duration_min=self.duration_min,
            phase=self.phase,
            label=self.label,
            dose_mg_per_kg=self.dose_mg_per_kg,
        )


class SessionPlan(BaseModel):
    """One planned session: day (0 = first), dose, infusion duration (None unless infused),
    phase and the schedule's name for it."""

    day: float
    dose_mg: float
    duration_min: float | None
    phase: str
    label: str
    dose_mg_per_kg: float | None = None


class EscalationStep(BaseModel):
    """A dose step the clinician may take, and when (simulated in the forecast)."""

    when: str
    after_session: int
    dose_mg: float
    dose_mg_per_kg: float | None = None


class RegimenReport(BaseModel):
    """The method, its sessions and why (``sessions`` is empty when nothing is planned)."""

    drug: str
    route: str
    off_label: bool = False
    sessions: list[SessionPlan]
    reasons: list[str]
    dosing_weight_kg: float | None = None
    escalation: list[EscalationStep] = []
    maintenance_interval_days: float | None = None
    notes: list[str] = []


@dataclass(frozen=True)
class Regimen:
    """The proposed method: its induction, the sessions after it for a maintenance interval,
    and the escalation steps.

    ``intervals`` are the maintenance intervals the schedule allows (days; empty when no
    published maintenance exists for the route); :meth:`with_interval` lays out the sessions
    after induction for one of them, up to ``horizon_day``.
    """

    drug: str
    route: str
    sessions: tuple[Session, ...]
    reasons: tuple[str, ...]
    dosing_weight_kg: float
    escalation: tuple[EscalationStep, ...]
    notes: tuple[str, ...]
    base_dose_mg: float
    """The dose of the sessions after the first (the model course's nominal dose)."""
    base_dose_mg_per_kg: float | None = None
    off_label: bool = False
    fixed_after_induction: tuple[Session, ...] = ()
    intervals: tuple[float, ...] = ()
    taper_gap_days: float | None = None
    horizon_day: float = 0.0
    interval_days: float | None = None

    @property
    def induction(self) -> tuple[Session, ...]:
        """The induction sessions."""
        return tuple(s for s in self.sessions if s.phase == "induction")

    @property
    def end_of_induction_day(self) -> float:
        """The day of the last induction session."""
        return max(s.day for s in self.induction)

    def with_interval(self, interval_days: float | None) -> Regimen:
        """The regimen with the sessions after induction laid out for ``interval_days``
        (None: induction only; an IV course tapers to the interval, gaps doubling from
        ``taper_gap_days``)."""
        if interval_days is None:
            return replace(self, sessions=self.induction, interval_days=None)
        if interval_days not in self.intervals:
            allowed = ", ".join(f"{i:g}" for i in self.intervals) or "none"
            raise ValueError(f"interval_days: {interval_days:g} is not allowed here; allowed: {allowed}")
        template = self.induction[-1]
        after = list(self.fixed_after_induction)
        day = after[-1].day if after else self.end_of_induction_day
        gap = self.taper_gap_days if self.taper_gap_days is not None else interval_days
        while day + min(gap, interval_days) <= self.horizon_day + 1e-9:
            step = min(gap, interval_days)
            day += step
            taper = step < interval_days
            label = f"taper ({step:g}-day gap)" if taper else f"maintenance (every {interval_days:g} d)"
            phase = "taper" if taper else "maintenance"
            after.append(Session(day, self.base_dose_mg, template.duration_min, phase, label, self.base_dose_mg_per_kg))
            gap *= 2
        return replace(self, sessions=self.induction + tuple(after), interval_days=interval_days)

    def report(self) -> RegimenReport:
        """The regimen as the plan reports it."""
        return RegimenReport(
            drug=self.drug,
            route=self.route,
            off_label=self.off_label,
            sessions=[s.report() for s in self.sessions],
            reasons=list(self.reasons),
            dosing_weight_kg=round(self.dosing_weight_kg, 2),
            escalation=list(self.escalation),
            maintenance_interval_days=self.interval_days,
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


def _steps(
    patient: PatientFile, default: list[dict[str, float]], unit: str, limit: float, start: float
) -> list[dict[str, float]]:
    """The escalation steps ``{after_session, dose}``: the clinic's doses
    (``planning.escalation``, each a step up and within the label or consensus ceiling) at the
    published steps' sessions (two sessions apart beyond them, **assumed**), or the published
    steps."""
    chosen = patient.planning.escalation
    if chosen is None:
        return default
    afters = [step["after_session"] for step in default] or [1.0]
    steps = []
    for i, dose in enumerate(chosen):
        field, below = f"planning.escalation[{i}]", chosen[i - 1] if i else start
        if dose > limit + 1e-12:
            raise PlannerError.one(
                field, f"{dose:g} {unit} is beyond the label or consensus ceiling of {limit:g} {unit}"
            )
        if dose <= below:
            raise PlannerError.one(field, f"{dose:g} {unit} does not step up from {below:g} {unit}")
        after = afters[i] if i < len(afters) else afters[-1] + 2 * (i - len(afters) + 1)
        steps.append({"after_session": after, "dose": dose})
    return steps


def _iv(patient: PatientFile, reasons: tuple[str, ...], rules: RuleSet) -> Regimen:
    weight = dosing_weight_kg(patient, rules)
    per_kg = _v("iv", "dose_mg_per_kg")
    duration = _v("iv", "duration_min")
    sessions = tuple(
        Session(d, per_kg * weight, duration, "induction", "induction (3 a week for 2 weeks)", per_kg)
        for d in _v("iv", "induction_days")
    )
    defaults = [{"after_session": st["after_session"], "dose": st["dose_mg_per_kg"]} for st in _v("iv", "escalation")]
    steps = _steps(patient, defaults, "mg/kg", _v("iv", "max_dose_mg_per_kg"), per_kg)
    escalation = tuple(
        EscalationStep(
            when=f"if less than a response after session {st['after_session']:g} and the dose is tolerated",
            after_session=int(st["after_session"]),
            dose_mg=_mg(st["dose"] * weight),
            dose_mg_per_kg=st["dose"],
        )
        for st in steps
    )
    notes = [f"dose by {patient.weight_basis} body weight ({weight:.1f} kg)"]
    if patient.bmi_kg_m2 >= rules.thresholds["obesity_bmi_kg_m2"].value:
        ibw = ideal_body_weight_kg(patient.height_cm, patient.sex == "female")
        notes.append(
            f"BMI {patient.bmi_kg_m2:.1f}: ideal body weight {ibw:.1f} kg would give "
            f"{per_kg * min(ibw, patient.weight_kg):.1f} mg"
        )
    return Regimen(
        "racemic_ketamine",
        "iv",
        sessions,
        reasons,
        weight,
        escalation,
        tuple(notes),
        base_dose_mg=per_kg * weight,
        base_dose_mg_per_kg=per_kg,
        intervals=tuple(float(i) for i in _v("iv", "maintenance_interval_days")),
        taper_gap_days=float(_v("iv", "first_taper_gap_days")),
        horizon_day=sessions[-1].day + _v("plan", "maintenance_horizon_days"),
    )


def _esketamine(patient: PatientFile, reasons: tuple[str, ...], rules: RuleSet) -> Regimen:
    older = patient.age_years >= rules.thresholds["older_adult_age_years"].value
    days = _v("esketamine", "induction_days")
    if patient.condition == "suicidal_ideation":
        dose = _v("esketamine", "mdsi_dose_mg")
        sessions = tuple(Session(d, dose, None, "induction", "twice weekly for 4 weeks (label, MDSI)") for d in days)
        mdsi = ("suicidal ideation: 84 mg twice weekly for 4 weeks; may be reduced to 56 mg; longer not studied",)
        return Regimen("esketamine", "intranasal", sessions, reasons, patient.weight_kg, (), mdsi, base_dose_mg=dose)
    first = _v("esketamine", "first_dose_mg_65_plus" if older else "first_dose_mg")
    later = _v("esketamine", "later_dose_mg_65_plus" if older else "later_dose_mg")
    label = "induction (weeks 1-4, twice weekly)"
    sessions = (Session(days[0], first, None, "induction", label),)
    sessions += tuple(Session(d, later, None, "induction", label) for d in days[1:])
    weekly = tuple(
        Session(d, later, None, "maintenance", "maintenance (weeks 5-8, weekly)")
        for d in _v("esketamine", "maintenance_weekly_days")
    )
    default = [{"after_session": 2 if older else 1, "dose": _v("esketamine", "escalation_dose_mg")}]
    steps = _steps(patient, default, "mg", _v("esketamine", "max_dose_mg"), later)
    for i, st in enumerate(steps):
        if st["dose"] not in _v("esketamine", "dose_steps_mg"):
            allowed = ", ".join(f"{d:g}" for d in _v("esketamine", "dose_steps_mg"))
            raise PlannerError.one(
                f"planning.escalation[{i}]", f"{st['dose']:g} mg is not a label dose; allowed: {allowed}"
            )
    escalation = tuple(
        EscalationStep(
            when=f"if less than a response after session {st['after_session']:g} and {later:g} mg is tolerated",
            after_session=int(st["after_session"]),
            dose_mg=st["dose"],
        )
        for st in steps
    )
    notes: tuple[str, ...] = ("each 28 mg device is 2 sprays; 5 minutes between devices",)
    if older:
        notes += ("65 or over: 28 mg on day 1, then 28, 56 or 84 mg in 28 mg steps",)
    return Regimen(
        "esketamine",
        "intranasal",
        sessions,
        reasons,
        patient.weight_kg,
        escalation,
        notes,
        base_dose_mg=later,
        fixed_after_induction=weekly,
        intervals=tuple(float(i) for i in _v("esketamine", "maintenance_interval_days")),
        horizon_day=days[-1] + _v("plan", "maintenance_horizon_days"),
    )


OFF_LABEL_NOTE = (
    "off-label: racemic ketamine has no approval for any psychiatric use (FDA warning on compounded ketamine, "
    "Oct 2023); non-IV forms have level 3-4 evidence (CANMAT 2021)"
)


def _oral(patient: PatientFile, reasons: tuple[str, ...], rules: RuleSet) -> Regimen:
    per_kg = _v("oral", "dose_mg_per_kg")
    dose = per_kg * patient.weight_kg
    label = "oral, three times a week for 21 days (Domany 2019)"
    sessions = tuple(Session(d, dose, None, "induction", label, per_kg) for d in _v("oral", "induction_days"))
    return Regimen(
        "racemic_ketamine",
        "oral",
        sessions,
        reasons,
        patient.weight_kg,
        (),
        (OFF_LABEL_NOTE,),
        base_dose_mg=dose,
        base_dose_mg_per_kg=per_kg,
        off_label=True,
    )


def _sublingual(patient: PatientFile, reasons: tuple[str, ...], rules: RuleSet) -> Regimen:
    dose = _v("sublingual", "dose_mg")
    every = _v("sublingual", "induction_every_days")
    days = [float(d) for d in range(0, int(_v("sublingual", "induction_length_days")), int(every))]
    label = f"sublingual {dose:g} mg every {every:g} days (Lara 2013)"
    sessions = tuple(Session(d, dose, None, "induction", label) for d in days)
    return Regimen(
        "racemic_ketamine",
        "sublingual",
        sessions,
        reasons,
        patient.weight_kg,
        (),
        (OFF_LABEL_NOTE,),
        base_dose_mg=dose,
        off_label=True,
        intervals=tuple(float(i) for i in _v("sublingual", "maintenance_interval_days")),
        horizon_day=days[-1] + _v("plan", "maintenance_horizon_days"),
    )


def _im(patient: PatientFile, reasons: tuple[str, ...], rules: RuleSet) -> Regimen:
    steps = _v("im", "dose_steps_mg_per_kg")
    label = "IM, weekly, titrated by 0.1 mg/kg (Loo 2016)"
    sessions = tuple(
        Session(d, k * patient.weight_kg, None, "induction", label, k)
        for d, k in zip(_v("im", "induction_days"), steps, strict=True)
    )
    return Regimen(
        "racemic_ketamine",
        "im",
        sessions,
        reasons,
        patient.weight_kg,
        (),
        (OFF_LABEL_NOTE,),
        base_dose_mg=steps[-1] * patient.weight_kg,
        base_dose_mg_per_kg=steps[-1],
        off_label=True,
    )


_BUILDERS = {"iv": _iv, "intranasal": _esketamine, "oral": _oral, "sublingual": _sublingual, "im": _im}


def plan_regimen(patient: PatientFile, rules: RuleSet | None = None) -> Regimen:
    """The regimen for the patient: method (given or proposed), doses, induction days and the
    maintenance intervals allowed (laid out with :meth:`Regimen.with_interval`)."""
    rs = rules or default_rules()
    _drug, route, reasons = propose_method(patient, rs)
    if patient.planning.escalation and route not in ("iv", "intranasal"):
        raise PlannerError.one(
            "planning.escalation", f"no published escalation for {route} ketamine; give [] or leave it out"
        )
    regimen = _BUILDERS[route](patient, reasons, rs)
    return regimen.with_interval(max(regimen.intervals)) if regimen.intervals else regimen
