"""Maintenance from the patient's own forecast: the widest interval the schedule allows that
keeps this patient in response.

For every interval the schedule allows (IV: weekly to every 6 weeks; esketamine from week 9:
every 2 weeks or weekly — ``data/clinic/schedules.yaml``) the patient's virtual copies are
simulated with that schedule, and weighted by the patient's observed scores.  Response is
judged the day after induction and then at a rating every ``response_check_every_days`` (7,
**assumed**) from the end of induction to the plan's horizon, before the dose when a session
falls that day — the same days for every interval, so no interval is favoured by where its
sessions fall.  The probability of *staying in response* is, among the copies in
response the day after induction, the weighted share in response at every one of those
ratings; *ratings in response* is the weighted mean share of those ratings in response, over
all copies.  The planner takes the widest interval whose probability of staying in response is
at least ``keep_response_probability`` (default 0.8, **assumed**, a policy choice), or the
narrowest when none reaches it — and says so.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from ketasim.clinic._data import clinic_file, value
from ketasim.clinic.dosing import Regimen
from ketasim.clinic.forecast import FloatArray, Simulated, likelihood_weights, simulate_copies
from ketasim.clinic.patient import PatientFile
from ketasim.params import ParameterSet
from ketasim.population import VirtualPopulation
from ketasim.vocabulary import scale

DAYS_PER_MONTH = 365.25 / 12.0


class MaintenanceOption(BaseModel):
    """One maintenance interval and what the forecast says of it."""

    interval_days: float
    sessions_per_month: float
    """Sessions after induction per month, to the plan's horizon."""
    stay_in_response_probability: float | None
    """Among copies in response the day after induction: in response at every weekly rating to
    the horizon (None: no copy is in response then)."""
    ratings_in_response_share: float
    """All copies: the mean share of the weekly ratings, from the day after induction to the
    horizon, that are in response."""


class Maintenance(BaseModel):
    """The maintenance interval chosen from the forecast, and the trade-off behind it."""

    keep_response_probability: float
    keep_response_source: str
    horizon_day: float
    rating_days: list[float]
    """The days at which response is judged (the same for every interval)."""
    rating_every_days: float
    """The days between those ratings after the first."""
    chosen_interval_days: float | None
    options: list[MaintenanceOption]
    reason: str


def keep_level(patient: PatientFile) -> float:
    """The probability of staying in response the interval must keep (the patient's planning
    setting, else the documented default)."""
    chosen = patient.planning.keep_response_probability
    return float(chosen if chosen is not None else value("schedules", "plan", "keep_response_probability"))


def rating_every_days() -> float:
    """Days between the ratings response is judged on (``schedules.yaml``, assumed)."""
    return float(value("schedules", "plan", "response_check_every_days"))


def rating_days(regimen: Regimen) -> FloatArray:
    """The days response is judged on: the day after induction, then every
    :func:`rating_every_days` from the end of induction to the horizon (a rating on a
    session's day is taken before the dose, as the measurement plan asks)."""
    every = rating_every_days()
    end = regimen.end_of_induction_day
    return np.concatenate([[end + 1.0], np.arange(end + every, regimen.horizon_day + 1e-9, every)])


def stay_in_response(
    patient: PatientFile, regimen: Regimen, sim: Simulated, w: FloatArray
) -> tuple[float | None, float]:
    """(P(in response at every rating to the horizon | in response the day after induction),
    mean share of ratings in response), weighted by ``w``; ratings on :func:`rating_days`."""
    s = scale(patient.scale)
    baseline = patient.baseline_scores[patient.scale]
    at = np.searchsorted(sim.days, rating_days(regimen))
    responding = np.asarray(s.responded(sim.scores[:, at], baseline), dtype=bool)
    at_start = responding[:, 0]
    total = float(np.sum(w * at_start))
    stay = float(np.sum(w * responding.all(axis=1)) / total) if total > 1e-9 else None
    return stay, float(np.sum(w * responding.mean(axis=1)) / np.sum(w))


def choose_maintenance(
    patient: PatientFile,
    regimen: Regimen,
    pop: VirtualPopulation,
    params: ParameterSet,
    multipliers: FloatArray,
) -> tuple[Regimen, Simulated, Maintenance]:
    """The regimen with the chosen maintenance interval, its simulation and the trade-off
    table (one simulation of the copies per allowed interval, each vectorised over copies)."""
    level = keep_level(patient)
    options: list[MaintenanceOption] = []
    runs: dict[float, tuple[Regimen, Simulated]] = {}
    after_induction = regimen.horizon_day - regimen.end_of_induction_day
    for interval in sorted(regimen.intervals):
        candidate = regimen.with_interval(interval)
        sim = simulate_copies(patient, candidate, pop, params, multipliers)
        stay, share = stay_in_response(patient, candidate, sim, likelihood_weights(patient, sim, params))
        after = sum(s.phase != "induction" for s in candidate.sessions)
        options.append(
            MaintenanceOption(
                interval_days=interval,
                sessions_per_month=round(after / after_induction * DAYS_PER_MONTH, 2),
                stay_in_response_probability=None if stay is None else round(stay, 3),
                ratings_in_response_share=round(share, 3),
            )
        )
        runs[interval] = (candidate, sim)
    keeping = [
        o for o in options if o.stay_in_response_probability is not None and o.stay_in_response_probability >= level
    ]
    if keeping:
        chosen = max(keeping, key=lambda o: o.interval_days)
        reason = (
            f"Every {chosen.interval_days:g} days is the widest interval allowed that keeps the forecast probability "
            f"of staying in response at {chosen.stay_in_response_probability:.0%} (at least {level:.0%})."
        )
    else:
        chosen = min(options, key=lambda o: o.interval_days)
        best = chosen.stay_in_response_probability
        reason = (
            f"No interval allowed keeps the forecast probability of staying in response at {level:.0%}; the narrowest, "
            f"every {chosen.interval_days:g} days, keeps "
            + ("no responder (none is forecast)" if best is None else f"{best:.0%}")
            + ": review the course."
        )
    plan, sim = runs[chosen.interval_days]
    return (
        plan,
        sim,
        Maintenance(
            keep_response_probability=level,
            keep_response_source=str(clinic_file("schedules")["plan"]["keep_response_probability"]["source"]).replace(
                "**", ""
            ),
            horizon_day=regimen.horizon_day,
            rating_days=[float(d) for d in rating_days(regimen)],
            rating_every_days=rating_every_days(),
            chosen_interval_days=chosen.interval_days,
            options=options,
            reason=reason,
        ),
    )


def no_maintenance(patient: PatientFile, regimen: Regimen, why: str) -> Maintenance:
    """The record of a plan with no maintenance (no published schedule, or the review says stop)."""
    return Maintenance(
        keep_response_probability=keep_level(patient),
        keep_response_source="",
        horizon_day=regimen.horizon_day,
        rating_days=[],
        rating_every_days=rating_every_days(),
        chosen_interval_days=None,
        options=[],
        reason=why,
    )
