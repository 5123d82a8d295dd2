"""The HTTP API with FastAPI's TestClient: every endpoint, success and failure, and its limits."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ketasim.api import Limits, create_app
from ketasim.trials.targets import load_targets

EXAMPLE_TRIALS = Path(__file__).resolve().parents[1] / "examples" / "trials"
LIMITS = Limits(
    max_patient_courses=5_000, max_running_jobs=1, validation_n=20, forecast_copies=100, max_body_bytes=200_000
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    limits = Limits(**{**LIMITS.__dict__, "cache_dir": tmp_path_factory.mktemp("cache")})
    with TestClient(create_app(limits), base_url="http://localhost") as c:
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


def _post(client: TestClient, path: str, body: Any) -> Any:
    """POST JSON as a client may send it, NaN and Infinity included (json.dumps writes them)."""
    return client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


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
        ({"drug": "racemic_ketamine", "route": "iv", "dose_mg": 10, "at_h": [float("nan")]}, "at_h.0"),
        ({"drug": "racemic_ketamine", "route": "iv", "dose_mg": float("inf")}, "dose_mg"),
        ({"drug": "racemic_ketamine", "route": "iv", "dose_mg_per_kg": True}, "dose_mg_per_kg"),
        ({"drug": "racemic_ketamine", "route": "iv", "dose_mg": "10"}, "dose_mg"),
        ({"drug": "racemic_ketamine", "route": "iv", "dose_mg": 10, "colour": "red"}, "colour"),
    ],
)
def test_pk_refuses_bad_input_naming_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    r = _post(client, "/api/pk", body)
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
    nan_day = _post(
        client, "/api/simulate", {"treatment": [{"kind": "ketamine", "dose_mg": 35, "days": [float("nan")]}]}
    )
    assert nan_day.status_code == 422 and "treatment.0.days.0" in _fields(nan_day)
    no_start = client.post("/api/simulate", json={"treatment": [{"kind": "oral_antidepressant", "start_day": False}]})
    assert no_start.status_code == 422 and "treatment.0.start_day" in _fields(no_start)
    # an arm-like key named as a treatment kind keeps its name in the error path
    tagged = client.post("/api/simulate", json={"treatment": [{"kind": "placebo", "days": [0], "ketamine": 1}]})
    assert tagged.status_code == 422 and "treatment.0.ketamine" in _fields(tagged)


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


def test_a_cancelled_trial_frees_its_slot_at_once(client: TestClient) -> None:
    r = client.post("/api/trials", json=small_trial(n_per_arm=2000, replicates=1, assessment_days=[0, 1, 7, 28]))
    assert r.status_code == 202
    job = r.json()["job_id"]
    busy = client.post("/api/trials", json=small_trial())  # max_running_jobs = 1
    assert busy.status_code == 503 and int(busy.headers["retry-after"]) > 0
    cancelled = client.delete(f"/api/trials/{job}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post("/api/trials", json=small_trial())  # the slot is free without waiting for the chunk
    assert again.status_code == 202
    assert _wait(client, again.json()["job_id"])["status"] == "done"
    assert client.get(f"/api/trials/{job}").json()["status"] == "cancelled"


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


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(client: TestClient) -> None:
    sent = []

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(30):  # 30 × 64 KiB = 1.9 MB, no Content-Length
            sent.append(1)
            yield b"x" * 65536
        yield b'"}'

    r = client.post("/api/simulate", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "max_body_bytes" in r.json()["detail"]


def test_examples_and_validation(client: TestClient) -> None:
    ex = client.get("/api/trials-examples").json()
    assert len(ex) == len(list(EXAMPLE_TRIALS.glob("*.yaml"))) >= 13 and all("arms" in d for d in ex.values())
    first = client.get("/api/validation")
    assert first.status_code in (200, 202)
    end = time.monotonic() + 300
    v = first
    while v.status_code == 202 and time.monotonic() < end:
        assert 0.0 <= v.json()["progress"] <= 1.0 and int(v.headers["retry-after"]) > 0
        time.sleep(0.5)
        v = client.get("/api/validation")
    assert v.status_code == 200 and v.json()["total"] == len(load_targets())
    assert v.json()["cross_validation"]["folds"] >= 5 and v.json()["pk"]["total"] > 0
    assert sum(r["used_in_calibration"] for r in v.json()["targets"]) > 0
    assert client.get("/api/validation").json() == v.json()  # computed once, then served
    assert client.get("/api/validation", params={"n": 5}).status_code == 422


def test_validation_is_kept_on_disk_for_the_next_server(tmp_path: Path) -> None:
    limits = Limits(validation_n=20, cache_dir=tmp_path)
    app = create_app(limits)
    store = app.state.ketasim.validation
    store._compute(20)  # in this thread, as the background thread would
    assert getattr(store.get(20), "total", None) == len(load_targets())
    assert len(list(tmp_path.glob("validation-*-n20.json"))) == 1
    fresh = create_app(limits).state.ketasim.validation.get(20)  # a second server: from disk, no computing
    assert getattr(fresh, "total", None) == len(load_targets())


@pytest.mark.parametrize("page", ["/", "/how", "/plan", "/trial", "/validation"])
def test_every_page_carries_the_disclaimer_and_only_local_assets(client: TestClient, page: str) -> None:
    r = client.get(page)
    assert r.status_code == 200 and "/static/common.js" in r.text and "/static/vendor/plotly.min.js" in r.text
    assert "does not replace clinical judgement" in r.text
    assert "<script>" not in r.text  # no inline script: the CSP allows none
    for src in re.findall(r'src="([^"]+)"', r.text):
        assert src.startswith("/static/"), src
        assert client.get(src).status_code == 200


def test_openapi_schema_shows_the_typed_results(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/api/health", "/api/pk", "/api/simulate", "/api/plan", "/api/trials", "/api/validation"} <= set(paths)
    expected = {
        ("/api/pk", "post"): "PKProfile",
        ("/api/simulate", "post"): "CourseReport",
        ("/api/plan", "post"): "Plan",
        ("/api/trials/{job_id}", "get"): "JobState",
        ("/api/validation", "get"): "ValidationReport",
    }
    for (path, method), model in expected.items():
        ok = paths[path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{model}"}, (path, ok)
    components = schema["components"]["schemas"]
    assert "TrialSummary" in components and "Forecast" in components
    assert components["PKRequest"]["properties"]["route"]["enum"] == [
        "iv",
        "im",
        "sc",
        "intranasal",
        "oral",
        "sublingual",
    ]


def test_docs_reference_no_external_host(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "does not replace clinical judgement" in docs.text
    refs = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert refs and all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs
    for ref in refs:
        assert client.get(ref).status_code == 200, ref
    assert client.get("/redoc").status_code == 404


def test_a_post_from_another_sites_page_is_refused(client: TestClient) -> None:
    """Found by the security audit: the sign-in form's token was a plain double submit that a
    sibling subdomain could plant; now no state-changing request from another site's page gets
    past the Origin check, whatever cookie or token it carries."""
    for origin, status in (("http://evil.example", 403), ("null", 403), ("http://localhost.evil.example:8000", 403),
                           ("http://localhost:8000", 200), ("http://127.0.0.1:8000", 200), (None, 200)):  # fmt: skip
        headers = {} if origin is None else {"origin": origin}
        r = client.post("/api/plan", json=PATIENT, headers=headers)
        assert r.status_code == status, (origin, r.status_code, r.text[:200])
    assert client.get("/api/health", headers={"origin": "http://evil.example"}).status_code == 200  # reads are safe


def test_wrong_host_is_refused(client: TestClient) -> None:
    assert client.get("/api/health", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/api/health", headers={"host": "localhost:8000"}).status_code == 200
    assert client.get("/api/health", headers={"host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/api/health", headers={"host": "[::1]:8000"}).status_code == 200


def test_security_headers_on_pages_and_api(client: TestClient) -> None:
    for path in ("/", "/api/health", "/static/common.js"):
        h = client.get(path).headers
        assert (
            "script-src 'self'" in h["content-security-policy"]
            and "frame-ancestors 'none'" in h["content-security-policy"]
        )
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "same-origin"  # nothing to other sites; our own forms keep their Origin
        assert "strict-transport-security" not in h  # plain HTTP: HSTS would be ignored
    assert client.get("/api/health").headers["cache-control"] == "no-store"
    secure = TestClient(client.app, base_url="https://localhost")
    assert secure.get("/api/health").headers["strict-transport-security"] == "max-age=31536000"


def test_heavy_requests_over_the_limit_get_503_with_retry_after(client: TestClient) -> None:
    gate = client.app.state.ketasim.heavy  # type: ignore[attr-defined]
    with gate.slot(), gate.slot():  # both slots taken (max_heavy_requests = 2)
        r = client.post("/api/plan", json=PATIENT)
        assert r.status_code == 503 and int(r.headers["retry-after"]) > 0 and "limit" in r.json()["detail"]
    assert client.post("/api/plan", json=PATIENT).status_code == 200


def test_a_key_given_twice_in_a_json_body_is_refused(client: TestClient) -> None:
    """Found by an audit: ``{"weight_kg": 82, "weight_kg": 500}`` was taken as 500 without a
    word. Now a 422 names the key; the same body without the repeat still works, and a body
    that is not JSON keeps the route's own answer."""
    one = json.dumps({"drug": "esketamine", "route": "intranasal", "dose_mg": 56})
    twice = one[:-1] + ', "dose_mg": 84}'
    nested = json.dumps({"patient": {"weight_kg": 82}})[:-2] + ', "weight_kg": 500}}'
    headers = {"content-type": "application/json"}
    assert client.post("/api/pk", content=one, headers=headers).status_code == 200
    r = client.post("/api/pk", content=twice, headers=headers)
    assert r.status_code == 422 and "'dose_mg' appears twice" in r.text, r.text
    r = client.post("/api/simulate", content=nested, headers=headers)
    assert r.status_code == 422 and "'weight_kg' appears twice" in r.text, r.text
    r = client.post("/api/pk", content=b"{not json", headers=headers)
    assert r.status_code == 422 and "appears twice" not in r.text
