"""The one-patient (or many-patient) model: dose → plasma → receptor → cascade → symptoms and
side effects.

* :func:`simulate_course` — the whole chain for every patient of a population, one call
  (courses that follow the patient decided by :mod:`ketasim.model.adaptive`);
* :func:`expose` and :func:`outcomes` — its two phases, for callers that re-score one exposure;
* :mod:`ketasim.model.scenario` — one patient from a scenario file, and its typed report;
* :mod:`ketasim.model.odes` — the same model as one ODE system, for reference solvers and export.
"""

from ketasim.model.course import CourseResult as CourseResult
from ketasim.model.course import Exposure as Exposure
from ketasim.model.course import SessionPeaks as SessionPeaks
from ketasim.model.course import check_treatment as check_treatment
from ketasim.model.course import clinic_sessions as clinic_sessions
from ketasim.model.course import expose as expose
from ketasim.model.course import outcomes as outcomes
from ketasim.model.course import with_parameters as with_parameters
from ketasim.model.simulate import simulate_course as simulate_course

__all__ = [
    "CourseResult",
    "Exposure",
    "SessionPeaks",
    "check_treatment",
    "clinic_sessions",
    "expose",
    "outcomes",
    "simulate_course",
    "with_parameters",
]
