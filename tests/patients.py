"""Patient files for the planner's tests."""

from __future__ import annotations

from typing import Any


def base(**changes: Any) -> dict[str, Any]:
    """A patient who triggers no rule at all."""
    p: dict[str, Any] = {
        "name": "test patient",
        "age_years": 45,
        "sex": "male",
        "weight_kg": 80,
        "height_cm": 178,
        "diagnoses": ["trd"],
        "failed_antidepressant_trials": 3,
        "vitals": {"systolic_mmhg": 128, "diastolic_mmhg": 82, "heart_rate_bpm": 72, "spo2_pct": 98},
        "baseline_scores": {"MADRS": 33},
        "treatment": {"drug": "racemic_ketamine", "route": "iv"},
    }
    p.update(changes)
    return p


def vitals(**changes: float) -> dict[str, float]:
    v = {"systolic_mmhg": 128.0, "diastolic_mmhg": 82.0, "heart_rate_bpm": 72.0, "spo2_pct": 98.0}
    v.update(changes)
    return v


ESK = {"drug": "esketamine", "route": "intranasal"}
IV = {"drug": "racemic_ketamine", "route": "iv"}
