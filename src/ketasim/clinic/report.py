"""The plan as a self-contained HTML page (figure embedded, no network)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ketasim.clinic.patient import PatientFile
from ketasim.io.figures import plot_forecast
from ketasim.io.report import write_report


def write_plan_report(path: str | Path, patient: PatientFile, doc: dict[str, Any]) -> Path:
    """Patient summary, findings with sources, session plan, predicted peaks, forecast chart."""
    summary = (
        ["field", "value"],
        [
            ["age (years)", patient.age_years],
            ["sex", patient.sex],
            [
                "weight (kg) / height (cm) / BMI",
                f"{patient.weight_kg:g} / {patient.height_cm:g} / {patient.bmi_kg_m2:.1f}",
            ],
            ["diagnoses", ", ".join(patient.diagnoses)],
            ["failed antidepressant trials (this episode)", patient.failed_antidepressant_trials],
            ["history", ", ".join(patient.history) or "none recorded"],
            ["vitals", ", ".join(f"{k} {v:g}" for k, v in patient.vitals.model_dump().items())],
            ["baseline scores", ", ".join(f"{k} {v:g}" for k, v in patient.baseline_scores.items())],
        ],
    )
    findings = (
        ["severity", "rule", "message", "source"],
        [[f["severity"], f["rule"], f["message"], f["source"]] for f in doc["findings"]]
        or [["—", "—", "no finding", "—"]],
    )
    regimen = doc["regimen"]
    sessions = (
        ["session", "day", "phase", "dose (mg)", "duration (min)"],
        [
            [i + 1, s["day"], s.get("phase", ""), s["dose_mg"], s["duration_min"]]
            for i, s in enumerate(regimen["sessions"])
        ],
    )
    sections: list[tuple[str, str, list[Path], list[Any]]] = [
        ("Patient", "", [], [summary]),
        (
            f"Decision: {doc['decision'].replace('_', ' ')}",
            "Findings of the eligibility and safety rules, with their sources.",
            [],
            [findings],
        ),
        (
            f"Method: {regimen['drug']} {regimen['route']}",
            " ".join(regimen.get("reasons", [])) + " " + " ".join(regimen.get("notes", [])),
            [],
            [sessions],
        ),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        if doc.get("session_predictions"):
            peaks = (
                [
                    "session",
                    "day",
                    "CADSS peak median (10–90%)",
                    "at (min)",
                    "SBP peak median (10–90%)",
                    "at (min)",
                    "earliest discharge (min)",
                ],
                [
                    [
                        p["session"],
                        p["day"],
                        _band(p["cadss_peak"], ".1f"),
                        p["cadss_peak_t_min"],
                        _band(p["sbp_peak_mmhg"], ".0f"),
                        p["sbp_peak_t_min"],
                        p["earliest_discharge_min"],
                    ]
                    for p in doc["session_predictions"]
                ],
            )
            first = (["t (min)", "action"], [[m["t_min"], m["action"]] for m in doc["monitoring"] if m["session"] == 1])
            sections.append(
                (
                    "Predicted peaks and discharge, per session",
                    "From this patient's virtual copies (model).",
                    [],
                    [peaks],
                )
            )
            sections.append(("Monitoring, session 1 (later sessions alike)", "", [], [first]))
        f = doc.get("forecast")
        if f:
            figure = plot_forecast(f, Path(tmp) / "forecast.png")
            text = (
                f"Probability of response after induction (day {f['response_assessed_day']:g}): "
                f"{f['response_probability']:.0%}. Median days to loss of response without maintenance: "
                f"{f['median_days_to_relapse'] if f['median_days_to_relapse'] is not None else 'beyond follow-up'}. "
                f"Suggested maintenance interval: {f['suggested_maintenance_interval_days'] or '—'} days. "
                f"Band width (mean 90th − 10th percentile): {f['band_width_mean']:.1f} points"
                + (f", {f['prior_band_width_mean']:.1f} before the observed scores." if "prior" in f else ".")
            )
            sections.append((f"Course forecast ({f['scale']})", text, [figure], []))
        return write_report(path, f"ketasim plan: {patient.name}", sections)


def _band(b: dict[str, float], fmt: str) -> str:
    return f"{b['median']:{fmt}} ({b['p10']:{fmt}}–{b['p90']:{fmt}})"
