"""Dose records, treatment schedules and regimens."""

from ketasim.regimens._dose import Dose as Dose
from ketasim.regimens._dose import expand as expand
from ketasim.regimens._schedule import DEFAULT_INFUSION_MIN as DEFAULT_INFUSION_MIN
from ketasim.regimens._schedule import DOSE_FIELD_NAMES as DOSE_FIELD_NAMES
from ketasim.regimens._schedule import KetamineSessions as KetamineSessions
from ketasim.regimens._schedule import OralAntidepressant as OralAntidepressant
from ketasim.regimens._schedule import PlaceboSessions as PlaceboSessions
from ketasim.regimens._schedule import TreatmentItem as TreatmentItem
from ketasim.regimens._schedule import course_start_h as course_start_h
from ketasim.regimens._schedule import session_times_h as session_times_h

__all__ = [
    "DEFAULT_INFUSION_MIN",
    "DOSE_FIELD_NAMES",
    "Dose",
    "KetamineSessions",
    "OralAntidepressant",
    "PlaceboSessions",
    "TreatmentItem",
    "course_start_h",
    "expand",
    "session_times_h",
]
