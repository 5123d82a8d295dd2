"""The clinic registry: measurement-based care on a real database (SQLite by default,
PostgreSQL for a clinic), with personal accounts, roles, server-side sessions and an
append-only audit.

* :class:`Registry` — open one (``Registry.open(url)``) and call its verbs with an
  :class:`Actor`: ``add_patient``, ``record_session``, ``add_vitals``,
  ``record_questionnaire``, ``correct_patient``, ``discharge``, ``audit_log`` …;
* the inputs (:class:`PatientIn`, :class:`SessionIn`, :class:`VitalIn`,
  :class:`QuestionnaireIn`) are validated before anything is written;
* the course: :func:`save_plan` / :func:`approve_plan` (the planner on the stored patient),
  :func:`patient_status` (trajectory on the forecast band, response, next session due,
  alerts), :func:`dashboard`, :func:`rems_form`, :func:`export_fhir` (FHIR R4B Bundle);
* :data:`ROLES` and :data:`PERMISSIONS`: who may do what (deny by default).

Decision support: it does not replace clinical judgement.
"""

from ketasim.registry._auth import PERMISSIONS as PERMISSIONS
from ketasim.registry._auth import ROLES as ROLES
from ketasim.registry._auth import Actor as Actor
from ketasim.registry._care import Alert as Alert
from ketasim.registry._course import Dashboard as Dashboard
from ketasim.registry._course import PatientStatus as PatientStatus
from ketasim.registry._course import StoredPlan as StoredPlan
from ketasim.registry._course import approve_plan as approve_plan
from ketasim.registry._course import dashboard as dashboard
from ketasim.registry._course import latest_plan as latest_plan
from ketasim.registry._course import patient_status as patient_status
from ketasim.registry._course import save_plan as save_plan
from ketasim.registry._db import RecordNotFoundError as RecordNotFoundError
from ketasim.registry._db import RegistryError as RegistryError
from ketasim.registry._db import connect as connect
from ketasim.registry._db import default_url as default_url
from ketasim.registry._db import migrate as migrate
from ketasim.registry._demo import create_demo as create_demo
from ketasim.registry._exports import RemsForm as RemsForm
from ketasim.registry._exports import export_fhir as export_fhir
from ketasim.registry._exports import rems_form as rems_form
from ketasim.registry._exports import rems_form_html as rems_form_html
from ketasim.registry._fhir_import import ImportSummary as ImportSummary
from ketasim.registry._fhir_import import import_fhir as import_fhir
from ketasim.registry._inputs import EmergencyIn as EmergencyIn
from ketasim.registry._inputs import PatientIn as PatientIn
from ketasim.registry._inputs import QuestionnaireIn as QuestionnaireIn
from ketasim.registry._inputs import SessionIn as SessionIn
from ketasim.registry._inputs import VitalIn as VitalIn
from ketasim.registry._inputs import instruments as instruments
from ketasim.registry._registry import Registry as Registry
from ketasim.registry._research import research_table as research_table
from ketasim.registry._second_factor import SecondFactorSetup as SecondFactorSetup
from ketasim.registry._views import AuditRow as AuditRow
from ketasim.registry._views import EmergencyGrant as EmergencyGrant
from ketasim.registry._views import PatientRecord as PatientRecord
from ketasim.registry._views import QuestionnaireRecord as QuestionnaireRecord
from ketasim.registry._views import SessionRecord as SessionRecord
from ketasim.registry._views import VitalRecord as VitalRecord

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "Actor",
    "Alert",
    "AuditRow",
    "Dashboard",
    "EmergencyGrant",
    "EmergencyIn",
    "ImportSummary",
    "PatientIn",
    "PatientRecord",
    "PatientStatus",
    "QuestionnaireIn",
    "QuestionnaireRecord",
    "RecordNotFoundError",
    "Registry",
    "RegistryError",
    "RemsForm",
    "SecondFactorSetup",
    "SessionIn",
    "SessionRecord",
    "StoredPlan",
    "VitalIn",
    "VitalRecord",
    "approve_plan",
    "connect",
    "create_demo",
    "dashboard",
    "default_url",
    "export_fhir",
    "import_fhir",
    "instruments",
    "latest_plan",
    "migrate",
    "patient_status",
    "rems_form",
    "rems_form_html",
    "research_table",
    "save_plan",
]
