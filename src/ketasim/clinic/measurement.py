"""Measurement-based care rhythm: which questionnaires to collect when, and the alerts they
feed (``data/clinic/measurement.yaml``) — for the plan, and for the registry's dashboard."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, Field

from ketasim.clinic._data import clinic_file
from ketasim.clinic.dosing import Regimen
from ketasim.clinic.patient import PatientFile
from ketasim.schema import Real, StrictModel
from ketasim.vocabulary import ConditionName

Phase = str


class _Gap(StrictModel):
    value: Real = Field(gt=0, le=365)
    source: str


class _Phase(StrictModel):
    max_gap_days: _Gap


class _Instrument(StrictModel):
    instrument: str = Field(min_length=1, max_length=50)
    phases: tuple[str, ...] = Field(min_length=1)
    conditions: tuple[ConditionName, ...] = ()
    when: str
    feeds: str
    source: str


class _Guidance(StrictModel):
    source: str


class Rhythm(StrictModel):
    """The measurement rhythm file."""

    guidance: _Guidance
    phases: dict[str, _Phase]
    instruments: tuple[_Instrument, ...] = Field(min_length=1)


class MeasurementStep(BaseModel):
    """One questionnaire of the plan: when to collect it, and what it feeds."""

    instrument: str
    phase: str
    first_day: float
    last_day: float
    when: str
    max_gap_days: float
    feeds: str
    source: str


@cache
def rhythm() -> Rhythm:
    """The packaged rhythm (checked on load)."""
    return Rhythm.model_validate(clinic_file("measurement"))


def max_gap_days(phase: Phase) -> tuple[float, str]:
    """(largest gap between questionnaires, source) in ``induction`` or ``maintenance``."""
    gap = rhythm().phases[phase].max_gap_days
    return float(gap.value), gap.source


def measurement_plan(patient: PatientFile, regimen: Regimen) -> list[MeasurementStep]:
    """The questionnaires to collect in each phase of the planned course (the patient's
    forecast scale stands for ``primary``)."""
    spans: dict[str, tuple[float, float]] = {}
    for s in regimen.sessions:
        phase = "induction" if s.phase == "induction" else "maintenance"
        lo, hi = spans.get(phase, (s.day, s.day))
        spans[phase] = (min(lo, s.day), max(hi, s.day))
    out: list[MeasurementStep] = []
    for phase, (first, last) in spans.items():
        for item in rhythm().instruments:
            if phase not in item.phases or (item.conditions and patient.condition not in item.conditions):
                continue
            name = patient.scale if item.instrument == "primary" else item.instrument
            if any(o.instrument == name and o.phase == phase for o in out):
                continue
            out.append(
                MeasurementStep(
                    instrument=name,
                    phase=phase,
                    first_day=first,
                    last_day=last,
                    when=item.when,
                    max_gap_days=max_gap_days(phase)[0],
                    feeds=item.feeds,
                    source=item.source,
                )
            )
    return out
