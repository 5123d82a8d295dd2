"""Tables shared by the terminal output and the HTML reports (header, rows of text)."""

from __future__ import annotations

from ketasim.clinic.monitoring import PeakBand
from ketasim.clinic.plan import Plan
from ketasim.model.scenario import CourseReport
from ketasim.trials.validation import ValidationReport

Table = tuple[list[str], list[list[str]]]
SUMMARY_DAYS = (0, 1, 2, 3, 7, 14, 21, 28, 42, 56, 84)


def course_table(course: CourseReport) -> Table:
    """The course at midday of a few days: scores, occupancy, BDNF, synapses, CADSS, SBP."""
    times = course.times_h
    scales = list(course.scales)
    head = ["day", *scales, "occupancy", "BDNF", "synapses", "CADSS", "SBP (mmHg)"]
    rows = []
    for day in SUMMARY_DAYS:
        t = 24.0 * day + 12.0 if day else 0.0
        if t > times[-1]:
            break
        i = min(range(len(times)), key=lambda k: abs(times[k] - t))
        rows.append(
            [
                f"{day}",
                *(f"{course.scales[s][i]:.1f}" for s in scales),
                f"{course.states['nmda_occupancy'][i]:.2f}",
                f"{course.states['bdnf'][i]:.2f}",
                f"{course.states['synapses'][i]:.2f}",
                f"{course.adverse['cadss'][i]:.1f}",
                f"{course.adverse['sbp_mmhg'][i]:.0f}",
            ]
        )
    return head, rows


def session_table(course: CourseReport) -> Table:
    """Each session's peak occupancy and its adverse-event probabilities."""
    events = list(course.sessions[0].event_probability) if course.sessions else []
    head = ["time (h)", "kind", "peak occupancy", *(f"p {e}" for e in events)]
    rows = [
        [f"{s.time_h:g}", s.kind, f"{s.peak_occupancy:.2f}", *(f"{s.event_probability[e]:.3f}" for e in events)]
        for s in course.sessions
    ]
    return head, rows


def band(b: PeakBand, fmt: str) -> str:
    """``median (p10–p90)``."""
    return f"{b.median:{fmt}} ({b.p10:{fmt}}–{b.p90:{fmt}})"


def peak_table(plan: Plan) -> Table:
    """Per session: the predicted CADSS and systolic peaks (median, 10–90%) and earliest discharge."""
    head = [
        "session",
        "day",
        "CADSS peak median (10–90%)",
        "at (min)",
        "SBP peak median (10–90%)",
        "at (min)",
        "earliest discharge (min)",
        "P(pre-dose hold)",
        "P(a reading ≥ 180/110)",
        "P(not ready at minimum)",
    ]
    rows = [
        [
            str(p.session),
            f"{p.day:g}",
            band(p.cadss_peak, ".1f"),
            f"{p.cadss_peak_t_min:g}",
            band(p.sbp_peak_mmhg, ".0f"),
            f"{p.sbp_peak_t_min:g}",
            f"{p.earliest_discharge_min:g}",
            f"{p.predose_hold_probability:.1%}",
            f"{p.severe_bp_probability:.1%}",
            f"{p.not_ready_at_minimum_probability:.1%}",
        ]
        for p in plan.session_predictions
    ]
    return head, rows


def validation_table(report: ValidationReport) -> Table:
    """Every target: observed, predicted, tolerance, verdict, and whether it was fitted."""
    head = ["id", "source", "endpoint", "observed", "predicted", "tolerance", "pass", "in calibration", "reason"]
    rows = [
        [
            r.id,
            r.source,
            r.endpoint,
            r.observed_text(),
            "—" if r.predicted is None else f"{r.predicted:.3g}",
            f"{r.tolerance:g}",
            "yes" if r.passed else "no",
            "yes" if r.used_in_calibration else "no",
            r.reason or "",
        ]
        for r in report.targets
    ]
    return head, rows
