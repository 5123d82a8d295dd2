"""Self-contained HTML reports, rendered from Jinja2 templates (autoescaped, one base
template with the disclaimer): figures embedded as PNG data, nothing fetched at view time."""

from __future__ import annotations

import base64
import datetime as _dt
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from ketasim import DISCLAIMER, __version__
from ketasim.clinic.forecast import MIN_RESPONSE
from ketasim.clinic.patient import PatientFile
from ketasim.clinic.plan import Plan
from ketasim.io.files import atomic_path
from ketasim.model.scenario import CourseReport, Scenario
from ketasim.params import ParameterSet, default_parameters
from ketasim.reporting.figures import plot_cascade, plot_forecast, plot_validation
from ketasim.reporting.tables import course_table, peak_table, session_table, validation_table
from ketasim.trials.validation import ValidationReport

_ENV = Environment(
    loader=PackageLoader("ketasim", "reporting/templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render(template: str, title: str, params: ParameterSet | None = None, **context: Any) -> str:
    """A page from ``template`` with the title, disclaimer, version, date and parameter set."""
    p = params or default_parameters()
    return _ENV.get_template(template).render(
        title=title,
        disclaimer=DISCLAIMER,
        version=__version__,
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        parameters=f"{p.origin} (digest {p.digest})",
        **context,
    )


def write_html(path: str | Path, text: str) -> Path:
    """Write a page atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def course_html(scenario: Scenario, course: CourseReport, params: ParameterSet | None = None) -> str:
    """The ``ketasim simulate --report`` page."""
    summary_head, summary_rows = course_table(course)
    session_head, session_rows = session_table(course)
    return render(
        "course.html.j2",
        f"ketasim simulation: {scenario.name}",
        params,
        scenario_json=scenario.model_dump_json(indent=1),
        course=course,
        cascade_png=data_uri(plot_cascade([(scenario.name, course)])),
        summary_head=summary_head,
        summary_rows=summary_rows,
        session_head=session_head,
        session_rows=session_rows,
    )


def validation_html(report: ValidationReport, params: ParameterSet | None = None) -> str:
    """The ``ketasim validate --report`` page."""
    head, rows = validation_table(report)
    return render(
        "validation.html.j2",
        f"ketasim validation: {report.passed}/{report.total} targets pass",
        params,
        report=report,
        in_calibration=sum(r.used_in_calibration for r in report.targets),
        figure_png=data_uri(plot_validation(report.targets)),
        head=head,
        rows=rows,
    )


def plan_html(patient: PatientFile, plan: Plan, params: ParameterSet | None = None) -> str:
    """The ``ketasim plan --report`` page: patient, findings with sources, sessions, predicted
    peaks, monitoring and the forecast chart."""
    v = patient.vitals
    patient_rows = [
        ["age (years)", f"{patient.age_years:g}"],
        ["sex", patient.sex],
        ["weight (kg) / height (cm) / BMI", f"{patient.weight_kg:g} / {patient.height_cm:g} / {patient.bmi_kg_m2:.1f}"],
        ["diagnoses", ", ".join(patient.diagnoses)],
        ["failed antidepressant trials (this episode)", str(patient.failed_antidepressant_trials)],
        ["history", ", ".join(patient.history) or "none recorded"],
        [
            "vitals",
            f"BP {v.systolic_mmhg:g}/{v.diastolic_mmhg:g} mmHg, heart rate {v.heart_rate_bpm:g}/min, "
            f"SpO2 {v.spo2_pct:g}%",
        ],
        ["baseline scores", ", ".join(f"{k} {s:g}" for k, s in patient.baseline_scores.items())],
    ]
    baseline = patient.baseline_scores
    context: dict[str, Any] = {
        "patient": patient,
        "plan": plan,
        "patient_rows": patient_rows,
        "observed_rows": [
            [f"{o.day:g}", o.scale, f"{o.score:g}", f"{(o.score - baseline[o.scale]) / baseline[o.scale]:+.0%}"]
            for o in sorted(patient.observed_scores, key=lambda o: o.day)
        ],
        "finding_rows": [[f.severity, f.rule, f.message, f.source] for f in plan.findings]
        or [["—", "—", "No finding.", "—"]],
        "session_rows": [
            [
                str(i + 1),
                f"{s.day:g}",
                s.label,
                f"{s.dose_mg:g}",
                "—" if s.duration_min is None else f"{s.duration_min:g}",
            ]
            for i, s in enumerate(plan.regimen.sessions)
        ],
        "escalation": [f"{e.when[0].upper()}{e.when[1:]}: {e.dose_mg:g} mg." for e in plan.regimen.escalation],
        "maintenance_rows": [
            [
                f"{o.interval_days:g}"
                + (
                    " (chosen)" if plan.maintenance and o.interval_days == plan.maintenance.chosen_interval_days else ""
                ),
                f"{o.sessions_per_month:.1f}",
                "—" if o.stay_in_response_probability is None else f"{o.stay_in_response_probability:.0%}",
                f"{o.ratings_in_response_share:.0%}",
            ]
            for o in (plan.maintenance.options if plan.maintenance else [])
        ],
        "monitoring_rows": [
            [f"{m.t_min:g}", m.action, "" if m.hold_probability is None else f"{m.hold_probability:.1%}"]
            for m in plan.monitoring
            if m.session == 1
        ],
        "measurement_rows": [
            [m.instrument, m.phase, f"{m.first_day:g}–{m.last_day:g}", m.when, m.feeds, m.source]
            for m in plan.measurement
        ],
    }
    context["peak_head"], context["peak_rows"] = peak_table(plan)
    f = plan.forecast
    context["forecast_png"] = data_uri(plot_forecast(f)) if f else ""
    context["forecast_text"] = forecast_text(plan) if f else ""
    return render("plan.html.j2", f"ketasim plan: {patient.name}", params, **context)


def forecast_text(plan: Plan) -> str:
    """One paragraph on the forecast: response, relapse, the schedule it was simulated with,
    band width."""
    f = plan.forecast
    if f is None:
        return ""
    relapse = (
        "not reported (response unlikely)"
        if f.response_probability < MIN_RESPONSE
        else f"{f.median_days_to_relapse:g} days"
        if f.median_days_to_relapse is not None
        else "beyond follow-up"
    )
    interval = (
        f"maintenance every {f.suggested_maintenance_interval_days:g} days"
        if f.suggested_maintenance_interval_days
        else "no maintenance"
    )
    text = (
        f"Probability of response after induction (day {f.response_assessed_day:g}): "
        f"{f.response_probability:.0%}. Median time to loss of response without maintenance: {relapse}. "
        f"The forecast is simulated with the planned schedule ({len(f.schedule_days)} sessions, {interval}). "
        f"Band width (mean 90th − 10th percentile): {f.band_width_mean:.1f} points"
    )
    return text + (f", {f.prior_band_width_mean:.1f} before the observed scores." if f.prior else ".")
