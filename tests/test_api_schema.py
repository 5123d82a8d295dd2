"""schemathesis against /openapi.json: generated requests never get a 5xx, and every response
matches the schema (status code, content type, headers and body).

Excluded: ``positive_data_acceptance`` — the API refuses some schema-valid bodies on purpose
(a dose above its clinical bound, both ``dose_mg`` and ``dose_mg_per_kg``), with a 422 that
names the field; ``use_after_free`` — a deleted trial job is forgotten, by design.  Numbers
are strict (no ``false`` for 0, no ``"1"`` for 1), so ``negative_data_rejection`` is checked."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from ketasim.api import Limits, create_app

APP = create_app(
    Limits(
        max_patient_courses=300,
        max_running_jobs=1,
        max_run_seconds=5.0,
        validation_n=20,
        max_validation_n=20,
        forecast_copies=30,
        allowed_hosts=("testserver", "localhost"),
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(excluded_checks=[checks.positive_data_acceptance, checks.use_after_free])
