"""Dose records, treatment schedules and regimens."""

from ketasim.regimens._dose import MAX_AMOUNT_MG as MAX_AMOUNT_MG
from ketasim.regimens._dose import MIN_AMOUNT_MG as MIN_AMOUNT_MG
from ketasim.regimens._dose import MIN_AMOUNT_MG_PER_KG as MIN_AMOUNT_MG_PER_KG
from ketasim.regimens._dose import Dose as Dose
from ketasim.regimens._dose import expand as expand
from ketasim.regimens._schedule import DEFAULT_INFUSION_MIN as DEFAULT_INFUSION_MIN
from ketasim.regimens._schedule import DOSE_FIELD_NAMES as DOSE_FIELD_NAMES
from ketasim.regimens._schedule import AntidepressantSwitch as AntidepressantSwitch
from ketasim.regimens._schedule import AntipsychoticAugmentation as AntipsychoticAugmentation
from ketasim.regimens._schedule import Comparator as Comparator
from ketasim.regimens._schedule import EctCourse as EctCourse
from ketasim.regimens._schedule import Escalation as Escalation
from ketasim.regimens._schedule import KetamineSessions as KetamineSessions
from ketasim.regimens._schedule import OralAntidepressant as OralAntidepressant
from ketasim.regimens._schedule import PlaceboSessions as PlaceboSessions
from ketasim.regimens._schedule import Reduction as Reduction
from ketasim.regimens._schedule import StopWhen as StopWhen
from ketasim.regimens._schedule import TreatmentItem as TreatmentItem
from ketasim.regimens._schedule import course_start_h as course_start_h
from ketasim.regimens._schedule import session_times_h as session_times_h
from ketasim.regimens._schedule import shifted as shifted
from ketasim.regimens._schedule import treatment_end_day as treatment_end_day

__all__ = [
    "DEFAULT_INFUSION_MIN",
    "DOSE_FIELD_NAMES",
    "MAX_AMOUNT_MG",
    "MIN_AMOUNT_MG",
    "MIN_AMOUNT_MG_PER_KG",
    "AntidepressantSwitch",
    "AntipsychoticAugmentation",
    "Comparator",
    "Dose",
    "EctCourse",
    "Escalation",
    "KetamineSessions",
    "OralAntidepressant",
    "PlaceboSessions",
    "Reduction",
    "StopWhen",
    "TreatmentItem",
    "course_start_h",
    "expand",
    "session_times_h",
    "shifted",
    "treatment_end_day",
]
