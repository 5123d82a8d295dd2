"""The HTTP API with FastAPI's TestClient: every endpoint, success and failure, and its limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ketasim.api import Limits, create_app

LIMITS = Limits(
    max_patient_courses=5_000, max_running_jobs=1, validation_n=20, forecast_copies=100, max_body_bytes=200_000
)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(LIMITS)) as c:
        yield c


def small_trial(**changes: Any) -> dict[str, Any]:
    design: dict[str, Any] = {
        "name": "api trial",
        "condition": "trd",
        "scale": "MADRS",
        "n_per_arm": 20,
        "arms": {
            "ketamine": {"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 0.5, "days": [0]}]},
            "saline": {"treatment": [{"kind": "placebo", "placebo": "saline", "days": [0]}]},
        },
        "control": "saline",
        "assessment_days": [0, 1, 7],
        "endpoints": [{"type": "response", "day": 1}, {"type": "mean_change", "day": 7}],
    }
    design.update(changes)
    return design


PATIENT = {
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


def _fields(response: Any) -> list[str]:
    return [".".join(str(p) for p in d["loc"][1:]) for d in response.json()["detail"]]


def test_health(client: TestClient) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["version"]


def test_pk_matches_the_cli_contract(client: TestClient) -> None:
    r = client.post("/api/pk", json={"drug": "racemic_ketamine", "route": "iv", "dose_mg_per_kg": 0.5, "weight_kg": 70})
    assert r.status_code == 200
    doc = r.json()
    assert list(doc["concentrations_ng_ml"]) == ["ketamine", "norketamine"]
    assert doc["summary"]["ketamine"]["cmax_ng_ml"] == pytest.approx(185, rel=0.1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"drug": "racemic_ketamine", "route": "iv", "dose_mg_per_kg": 5.0}, "dose_mg_per_kg"),
        ({"drug": "racemic_ketamine", "route": "iv"}, "dose_mg"),
        ({"drug": "aspirin", "route": "iv", "dose_mg": 10}, "drug"),
        ({"drug": "racemic_ketamine", "route": "iv", "dose_mg": 10, "weight_kg": 500}, "weight_kg"),
        ({"drug": "esketamine", "route": "intranasal", "dose_mg": 50}, "dose_mg"),
        ({"drug": "racemic_ketamine", "route": "iv", "dose_mg": 10, "at_h": [2, 1]}, "at_h"),
    ],
)
def test_pk_refuses_bad_input_naming_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    r = client.post("/api/pk", json=body)
    assert r.status_code == 422
    assert field in _fields(r)


def test_simulate_default_and_bad_scenario(client: TestClient) -> None:
    ok = client.post(
        "/api/simulate",
        json={"follow_up_days": 3, "treatment": [{"kind": "ketamine", "dose_mg_per_kg": 0.5, "days": [0]}]},
    )
    assert ok.status_code == 200 and set(ok.json()) >= {"times_h", "states", "scales", "adverse"}
    bad = client.post("/api/simulate", json={"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 9, "days": [0]}]})
    assert bad.status_code == 422 and any("dose_mg_per_kg" in f for f in _fields(bad))
    unknown = client.post("/api/simulate", json={"patient": {"condition": "flu"}})
    assert unknown.status_code == 422


def test_plan_and_its_report(client: TestClient) -> None:
    r = client.post("/api/plan", json=PATIENT)
    assert r.status_code == 200
    doc = r.json()
    assert doc["decision"] == "eligible" and doc["regimen"]["sessions"][0]["dose_mg"] == 40.0
    html = client.post("/api/plan/report", json=PATIENT)
    assert html.status_code == 200 and "does not replace clinical judgement" in html.text
    bad = client.post("/api/plan", json={**PATIENT, "history": ["broken_leg"]})
    assert bad.status_code == 422 and "history" in _fields(bad)[0]


def _wait(client: TestClient, job: str, seconds: float = 120) -> dict[str, Any]:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        state: dict[str, Any] = client.get(f"/api/trials/{job}").json()
        if state["status"] in ("done", "failed", "cancelled"):
            return state
        time.sleep(0.2)
    raise AssertionError("trial did not finish")


def test_trial_job_runs_to_completion_off_the_request_thread(client: TestClient) -> None:
    r = client.post("/api/trials", json=small_trial())
    assert r.status_code == 202
    job = r.json()["job_id"]
    state = _wait(client, job)
    assert state["status"] == "done" and state["progress"] == 1.0
    assert set(state["result"]["arms"]) == {"ketamine", "saline"}
    assert "response_day_1" in state["result"]["comparisons"]
    rows = client.get(f"/api/trials/{job}/parquet")
    assert rows.status_code == 200 and rows.content[:4] == b"PAR1"
    gone = client.delete(f"/api/trials/{job}")
    assert gone.status_code == 200
    assert client.get(f"/api/trials/{job}").status_code == 404


def test_trial_job_can_be_cancelled(client: TestClient) -> None:
    r = client.post("/api/trials", json=small_trial(n_per_arm=2000, replicates=1, assessment_days=[0, 1, 7, 28]))
    assert r.status_code == 202
    job = r.json()["job_id"]
    assert client.delete(f"/api/trials/{job}").status_code == 200
    assert _wait(client, job)["status"] in ("cancelled", "done")


def test_trial_limits_and_bad_designs(client: TestClient) -> None:
    big = client.post("/api/trials", json=small_trial(n_per_arm=4000))
    assert big.status_code == 422 and "max_patient_courses" in big.text
    bad = client.post("/api/trials", json=small_trial(scale="Y-BOCS"))
    assert bad.status_code == 422
    dose = client.post(
        "/api/trials",
        json=small_trial(
            arms={"x": {"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 6, "days": [0]}]}}, control=None
        ),
    )
    assert dose.status_code == 422 and "arms.x.treatment.0.dose_mg_per_kg" in _fields(dose)
    assert client.get("/api/trials/nope").status_code == 404
    assert client.delete("/api/trials/nope").status_code == 404
    assert client.get("/api/trials/nope/parquet").status_code == 404


def test_body_size_limit_names_the_limit(client: TestClient) -> None:
    r = client.post("/api/simulate", content=b"{" + b" " * 300_000 + b"}", headers={"content-type": "application/json"})
    assert r.status_code == 413 and "max_body_bytes" in r.json()["detail"]


def test_examples_and_validation(client: TestClient) -> None:
    ex = client.get("/api/trials-examples").json()
    assert len(ex) == 6 and all("arms" in d for d in ex.values())
    v = client.get("/api/validation")
    assert v.status_code == 200 and v.json()["total"] == 135
    assert client.get("/api/validation", params={"n": 5}).status_code == 422


@pytest.mark.parametrize("page", ["/", "/how", "/plan", "/trial", "/validation"])
def test_every_page_is_served_with_the_disclaimer_script(client: TestClient, page: str) -> None:
    r = client.get(page)
    assert r.status_code == 200 and "/static/common.js" in r.text and "/static/vendor/plotly.min.js" in r.text
    js = client.get("/static/common.js").text
    assert "does not replace clinical judgement" in js
    assert client.get("/static/vendor/plotly.min.js").status_code == 200


def test_openapi_schema_and_docs(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/api/health", "/api/pk", "/api/simulate", "/api/plan", "/api/trials", "/api/validation"} <= set(
        schema["paths"]
    )
    assert client.get("/docs").status_code == 200
