"""``ketasim plan``: one patient's plan — eligibility, method and dose, monitoring, forecast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ketasim.cli._app import (
    FormatOption,
    OutputFormat,
    ParamsOption,
    console,
    disclaimer,
    echo_json,
    input_file,
    output_file,
    parameters,
    refusing,
    writing,
)
from ketasim.clinic.plan import Plan


def plan_command(
    patient_file: Annotated[
        Path, typer.Argument(metavar="PATIENT", help="Patient file (YAML/JSON), see docs/planner.md.")
    ],
    output_format: FormatOption = OutputFormat.table,
    report: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report.")] = None,
    rules: Annotated[Path | None, typer.Option(help="The clinic's own rules file (default: the packaged one).")] = None,
    params_file: ParamsOption = None,
) -> None:
    """Plan one patient: eligibility and safety findings with sources, method and dose,
    session monitoring with the patient's predicted peaks, and a course forecast that
    sharpens with the patient's observed scores.  A research and decision-support tool: it
    does not replace clinical judgement."""
    from ketasim.clinic.patient import load_patient
    from ketasim.clinic.plan import plan_patient
    from ketasim.clinic.rules import load_rules

    input_file("PATIENT", patient_file)
    output_file("--report", report, (".html",))
    rule_set = None
    if rules is not None:
        with refusing("--rules"):
            rule_set = load_rules(input_file("--rules", rules))
    with refusing("PATIENT"):
        patient = load_patient(patient_file)
    params = parameters(params_file)
    with refusing("PATIENT"):
        plan = plan_patient(patient, rule_set, params=params)
    if report is not None:
        from ketasim.reporting.html import plan_html, write_html

        with writing("--report"):
            write_html(report, plan_html(patient, plan, params))
    if output_format is OutputFormat.json:
        echo_json(plan)
        return
    print_plan(plan)


def print_plan(plan: Plan) -> None:
    """Decision, findings, course review, sessions, maintenance trade-off, the first session's
    peaks and BP-hold probabilities, questionnaires and the forecast."""
    style = {"eligible": "green", "needs_review": "yellow", "not_eligible": "red"}[plan.decision]
    console.print(f"{plan.patient} (plan of {plan.planned_on}): ", end="", markup=False)
    console.print(plan.decision.replace("_", " "), style=style)
    if plan.findings:
        table = Table(title="Findings")
        for col in ("severity", "rule", "message", "source"):
            table.add_column(col, overflow="fold")
        for f in plan.findings:
            table.add_row(f.severity, f.rule, f.message, f.source)
        console.print(table)
    review = plan.course_review
    if review is not None:
        colour = {"continue": "green", "review": "yellow", "stop": "red"}[review.status]
        console.print("Course review: ", end="")
        console.print(review.status, style=colour)
        for reason in review.reasons:
            console.print(f"  {reason}", markup=False)
    reg = plan.regimen
    off = " (off-label)" if reg.off_label else ""
    console.print(f"Method: {reg.drug} {reg.route}{off}. " + " ".join(_sentence(r) for r in reg.reasons), markup=False)
    if reg.sessions:
        table = Table(title="Sessions")
        for col in ("session", "day", "phase", "dose (mg)", "duration (min)"):
            table.add_column(col, justify="right")
        for i, s in enumerate(reg.sessions):
            duration = "—" if s.duration_min is None else f"{s.duration_min:g}"
            table.add_row(str(i + 1), f"{s.day:g}", s.label, f"{s.dose_mg:g}", duration)
        console.print(table)
    for e in reg.escalation:
        console.print(f"Escalation (simulated): {_sentence(f'{e.when}: {e.dose_mg:g} mg')}", markup=False)
    m = plan.maintenance
    if m is not None:
        console.print(f"Maintenance: {_sentence(m.reason)}", markup=False)
        if m.options:
            table = Table(
                title=f"Maintenance trade-off (ratings every {m.rating_every_days:g} days, day {m.rating_days[0]:g} "
                f"to {m.rating_days[-1]:g})"
            )
            for col in ("every (days)", "sessions a month", "stay in response", "ratings in response"):
                table.add_column(col, justify="right")
            for o in m.options:
                stay = "—" if o.stay_in_response_probability is None else f"{o.stay_in_response_probability:.0%}"
                chosen = " *" if o.interval_days == m.chosen_interval_days else ""
                table.add_row(
                    f"{o.interval_days:g}{chosen}",
                    f"{o.sessions_per_month:.1f}",
                    stay,
                    f"{o.ratings_in_response_share:.0%}",
                )
            console.print(table)
    for p in plan.session_predictions[:1]:
        console.print(
            f"Session 1 predicted peaks: CADSS {p.cadss_peak.median:.1f} "
            f"({p.cadss_peak.p10:.1f}–{p.cadss_peak.p90:.1f}) at {p.cadss_peak_t_min:g} min; "
            f"SBP {p.sbp_peak_mmhg.median:.0f} mmHg ({p.sbp_peak_mmhg.p10:.0f}–{p.sbp_peak_mmhg.p90:.0f}) "
            f"at {p.sbp_peak_t_min:g} min. BP hold: {p.predose_hold_probability:.1%} before dosing, "
            f"{p.severe_bp_probability:.1%} for a reading of 180/110 or more; earliest discharge "
            f"{p.earliest_discharge_min:g} min.",
            markup=False,
        )
    if plan.measurement:
        when = {s.instrument: s.when for s in plan.measurement}
        console.print("Questionnaires: " + "; ".join(f"{k}: {v}" for k, v in when.items()) + ".", markup=False)
    fc = plan.forecast
    if fc is not None:
        relapse = _relapse(fc.median_days_to_relapse, fc.response_probability)
        interval = (
            f"every {fc.suggested_maintenance_interval_days:g} days"
            if fc.suggested_maintenance_interval_days
            else "none"
        )
        console.print(
            f"Forecast ({fc.scale}): response after induction {fc.response_probability:.0%}; "
            f"median days to loss of response without maintenance: {relapse}; "
            f"maintenance simulated: {interval}.",
            markup=False,
        )
    disclaimer()


def _sentence(text: str) -> str:
    """Capitalised, ending with a full stop."""
    text = text.strip()
    return (text[:1].upper() + text[1:]) + ("" if text.endswith((".", "!", "?")) else ".")


def _relapse(days: float | None, response_probability: float) -> str:
    from ketasim.clinic.forecast import MIN_RESPONSE

    if response_probability < MIN_RESPONSE:
        return "not reported (response unlikely)"
    return "beyond follow-up" if days is None else f"{days:g}"
