"""How a virtual trial is conducted beyond the model (``data/trials/conduct.yaml``): why
patients leave — adverse events at a session, lack of efficacy at an assessment — and their
blood pressure before dosing.

Adverse-event discontinuation at a clinic session has the form of every session adverse
event of the model (:func:`ketasim.pd.adverse.session_probabilities`), lessened by the
dissociation tolerance accrued over earlier sessions as dissociation is (:func:`ketasim.pd.adverse.cadss`):

    P(leave at a session) = 1 − (1 − q₀)·exp(−β·O_peak / (1 + g_tol·T))

q₀ from TRANSFORM-2's placebo arm; β derived (:func:`conduct`) so that a typical patient's
TRANSFORM-2 esketamine course reproduces its arm (in-sample for TRANSFORM-2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from ketasim.covariates import Covariates
from ketasim.io.data import read_packaged_yaml
from ketasim.model import expose
from ketasim.model.course import session_peaks
from ketasim.params import ParameterSet
from ketasim.pd.adverse import AdverseParameters
from ketasim.regimens import KetamineSessions

FloatArray = NDArray[np.float64]
TYPICAL = Covariates(np.array([74.0]), np.array([45.0]), np.array([False]))
"""The typical patient of the population (74 kg, 45 years; ketasim.population)."""


@dataclass(frozen=True)
class Bounded:
    """A normal distribution truncated to [low, high]."""

    mean: float
    sd: float
    low: float
    high: float

    def draw(self, rng: np.random.Generator, n: int, high: FloatArray | float | None = None) -> FloatArray:
        """``n`` draws by inverse CDF (one uniform each); ``high`` per patient if given."""
        top = np.broadcast_to(np.asarray(self.high if high is None else high, dtype=np.float64), (n,))
        a = special.ndtr((self.low - self.mean) / self.sd)
        b = special.ndtr((top - self.mean) / self.sd)
        return np.asarray(self.mean + self.sd * special.ndtri(a + (b - a) * rng.random(n)))


@dataclass(frozen=True)
class Conduct:
    """Dropout hazards and baseline vitals of a virtual trial."""

    ae_placebo_per_session: float
    ae_beta: float
    tolerance_gain: float
    loe_per_week: float
    systolic: Bounded
    systolic_high_at_65: float
    diastolic: Bounded

    def ae_probability(self, peak_occupancy: FloatArray, tolerance: FloatArray | float = 0.0) -> FloatArray:
        """P(leave for an adverse event) at a session with this peak NMDA occupancy and the
        dissociation tolerance before it."""
        drive = peak_occupancy / (1.0 + self.tolerance_gain * np.asarray(tolerance))
        return np.asarray(1.0 - (1.0 - self.ae_placebo_per_session) * np.exp(-self.ae_beta * drive))

    def loe_probability(self, weeks: FloatArray) -> FloatArray:
        """P(leave for lack of efficacy) over ``weeks`` without a response."""
        return np.asarray(1.0 - (1.0 - self.loe_per_week) ** np.maximum(weeks, 0.0))

    def baseline_vitals(self, rng: np.random.Generator, age_years: FloatArray) -> dict[str, FloatArray]:
        """Pre-dose systolic and diastolic pressure per patient (mmHg), within the dosing limits."""
        n = age_years.size
        high = np.where(age_years >= 65.0, self.systolic_high_at_65, self.systolic.high)
        return {"systolic_mmhg": self.systolic.draw(rng, n, high), "diastolic_mmhg": self.diastolic.draw(rng, n)}


_CACHE: dict[str, Conduct] = {}


def _bounded(entry: dict[str, Any]) -> Bounded:
    return Bounded(float(entry["mean"]), float(entry["sd"]), float(entry["low"]), float(entry["high"]))


def reference_course(params: ParameterSet, doses_mg: list[float], days: list[float]) -> tuple[FloatArray, FloatArray]:
    """A typical patient's esketamine course: each session's peak NMDA occupancy and the
    dissociation tolerance at its start."""
    items = [
        KetamineSessions(drug="esketamine", route="intranasal", dose_mg=dose, days=(day,), hour_of_day=0.0)
        for dose, day in zip(doses_mg, days, strict=True)
    ]
    ex = expose(items, TYPICAL, 24.0 * max(days) + 6.0, params=params)
    adverse = AdverseParameters.from_params(params)
    peaks = session_peaks(ex.sessions, ex.grid_h, ex.states["nmda_occupancy"], adverse)
    starts = np.array([t for t, _ in ex.sessions])
    tolerance = ex.tolerance_at(starts)[0]
    return np.array([float(x.peak_occupancy[0]) for x in peaks]), np.asarray(tolerance, dtype=np.float64)


def conduct(params: ParameterSet) -> Conduct:
    """The trial-conduct constants, β derived for ``params`` (cached per parameter set)."""
    key = params.digest
    if key in _CACHE:
        return _CACHE[key]
    data = read_packaged_yaml("trials/conduct.yaml")
    ae = data["dropout"]["adverse_events"]
    placebo = ae["placebo_course"]
    q0 = 1.0 - (1.0 - float(placebo["value"])) ** (1.0 / float(placebo["sessions"]))
    ref = ae["reference_doses_mg"]
    peaks, tolerance = reference_course(params, [float(d) for d in ref["value"]], [float(d) for d in ref["days"]])
    gain = AdverseParameters.from_params(params).tolerance_gain
    target = float(ae["drug_course"]["value"])

    def course_gap(beta: float) -> float:
        stay = (1.0 - q0) * np.exp(-beta * peaks / (1.0 + gain * tolerance))
        return float(1.0 - np.prod(stay)) - target

    vitals = data["baseline_vitals"]
    out = Conduct(
        ae_placebo_per_session=q0,
        ae_beta=float(optimize.brentq(course_gap, 0.0, 1e3)),
        tolerance_gain=gain,
        loe_per_week=float(data["dropout"]["lack_of_efficacy"]["per_week_nonresponders"]["value"]),
        systolic=_bounded(vitals["systolic_mmhg"]),
        systolic_high_at_65=float(vitals["systolic_mmhg"]["high_at_65"]),
        diastolic=_bounded(vitals["diastolic_mmhg"]),
    )
    _CACHE[key] = out
    return out
