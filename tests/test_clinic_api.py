"""The registry's JSON contract (/api/clinic) through the real app, on an SQLite file and on a
real PostgreSQL server: the flow end to end, 401/403/404/422 as designed, every role against
every action."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from authenticator import enrol
from ketasim.api import Limits, create_app
from ketasim.registry import Registry
from pg import registry_url

PASSWORD = "correct horse battery"
PATIENT = {  # the planner's patient JSON plus name, birth_date, mrn
    "name": "Mary Jane Example",
    "birth_date": "1968-02-29",
    "mrn": "A-100",
    "sex": "female",
    "weight_kg": 70,
    "height_cm": 165,
    "diagnoses": ["trd"],
    "failed_antidepressant_trials": 2,
    "vitals": {"systolic_mmhg": 120, "diastolic_mmhg": 80, "heart_rate_bpm": 70, "spo2_pct": 98},
    "baseline_scores": {"MADRS": 30},
    "treatment": {"drug": "esketamine", "route": "intranasal"},
}
ROLES = ("admin", "prescriber", "nurse", "viewer")


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    registry = Registry.open(registry_url(request, tmp_path, "a"))
    admin = registry.create_user(None, "admin", "Ada", "admin", PASSWORD)
    for role in ROLES[1:]:
        registry.create_user(admin, role, role.title(), role, PASSWORD)
    app = create_app(Limits(forecast_copies=100, cache_dir=tmp_path / "cache"), registry=registry)
    app.state.phone = enrol(registry, "admin", PASSWORD)  # administrators sign in with a second factor
    yield app
    registry.engine.dispose()


def client(app: Any, user: str | None = None) -> tuple[TestClient, dict[str, str]]:
    """A client signed in as ``user`` (None: not signed in; the admin with the code of the
    app's authenticator, ``app.state.phone``) and its CSRF header."""
    c = TestClient(app, base_url="http://localhost")
    if user is None:
        return c, {}
    code = app.state.phone.code() if user == "admin" else ""
    r = c.post("/api/clinic/login", json={"username": user, "password": PASSWORD, "code": code})
    assert r.status_code == 200, r.text
    return c, {"X-CSRF-Token": r.json()["csrf_token"]}


def test_the_contract_end_to_end(app: Any) -> None:
    from fhir.resources.R4B.bundle import Bundle

    doc, h = client(app, "prescriber")
    pid = doc.post("/api/clinic/patients", json=PATIENT, headers=h).json()["id"]
    start = datetime.now(UTC) - timedelta(days=3)
    session = {"started_at": start.isoformat(), "drug": "esketamine", "route": "intranasal", "dose_mg": 56}
    r = doc.post(f"/api/clinic/patients/{pid}/sessions", headers=h, json=session)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    readings = [{"taken_at": (start + timedelta(minutes=m)).isoformat(), "systolic_mmhg": s, "diastolic_mmhg": 80}
                for m, s in ((-5, 125), (40, 150))]  # fmt: skip
    assert doc.post(f"/api/clinic/sessions/{sid}/vitals", json=readings, headers=h).json() == {"saved": 2}
    day = (start + timedelta(days=1)).date().isoformat()
    r = doc.post(
        f"/api/clinic/patients/{pid}/scores", json={"date": day, "scale": "PHQ-9", "items": [1] * 8 + [2]}, headers=h
    )
    assert r.status_code == 201 and r.json()["total"] == 10
    r = doc.post(f"/api/clinic/patients/{pid}/scores", json={"date": day, "scale": "MADRS", "score": 14}, headers=h)
    assert r.status_code == 201
    record = doc.get(f"/api/clinic/patients/{pid}").json()
    assert record["record"]["given_name"] == "Mary Jane" and record["record"]["family_name"] == "Example"
    assert {"suicidal_ideation_item"} <= {a["kind"] for a in record["alerts"]}
    assert record["forecast"]["observed_scores"][0]["score"] == 14
    assert record["forecast"]["effective_copies"] < record["forecast"]["copies"]
    assert record["state"]["responded"] is True
    assert record["review"]["status"] in ("continue", "review", "stop") and record["review"]["sources"]
    Bundle.model_validate(doc.get(f"/api/clinic/patients/{pid}/fhir").json())
    admin, _ = client(app, "admin")
    rows = admin.get("/api/clinic/audit", params={"patient_id": pid}).json()
    assert {"user", "action", "patient_id", "at"} <= set(rows[0])
    assert {("prescriber", "create"), ("prescriber", "read"), ("prescriber", "export")} <= {
        (r["user"], r["action"]) for r in rows
    }


REGISTRY_ENDPOINTS = [
    ("post", "/api/clinic/patients"),
    ("get", "/api/clinic/patients"),
    ("get", "/api/clinic/patients/{pid}"),
    ("post", "/api/clinic/patients/{pid}/scores"),
    ("post", "/api/clinic/patients/{pid}/sessions"),
    ("get", "/api/clinic/patients/{pid}/fhir"),
    ("post", "/api/clinic/patients/{pid}/break-glass"),
    ("get", "/api/clinic/dashboard"),
    ("get", "/api/clinic/audit"),
    ("post", "/api/clinic/second-factor"),
    ("post", "/api/clinic/second-factor/confirm"),
    ("post", "/api/clinic/logout"),
]


def test_without_a_session_every_registry_endpoint_is_401_and_without_csrf_403(app: Any) -> None:
    doc, h = client(app, "prescriber")
    pid = doc.post("/api/clinic/patients", json=PATIENT, headers=h).json()["id"]
    anonymous, _ = client(app)
    for method, path in REGISTRY_ENDPOINTS:
        r = getattr(anonymous, method)(path.format(pid=pid), **({"json": {}} if method == "post" else {}))
        assert r.status_code == 401, (method, path, r.status_code)
    for method, path in REGISTRY_ENDPOINTS:
        if method == "post":
            r = doc.post(path.format(pid=pid), json={})
            assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"], path
    r = doc.post("/api/clinic/patients", json=PATIENT, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    assert client(app)[0].post("/api/clinic/login", json={"username": "nurse", "password": "x" * 12}).status_code == 401


# role -> may (True) or must be refused (False), per action of the contract
EXPECTED = {
    "create_patient": {"admin": False, "prescriber": True, "nurse": True, "viewer": False},
    "read_patient": {"admin": False, "prescriber": True, "nurse": True, "viewer": True},
    "record_score": {"admin": False, "prescriber": True, "nurse": True, "viewer": False},
    "record_session": {"admin": False, "prescriber": True, "nurse": True, "viewer": False},
    "export_fhir": {"admin": False, "prescriber": True, "nurse": False, "viewer": False},
    "read_audit": {"admin": True, "prescriber": False, "nurse": False, "viewer": False},
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_against_each_action(app: Any, role: str) -> None:
    doc, hd = client(app, "prescriber")
    pid = doc.post("/api/clinic/patients", json=PATIENT, headers=hd).json()["id"]
    c, h = client(app, role)
    now = datetime.now(UTC)
    calls = {
        "create_patient": lambda: c.post("/api/clinic/patients", json={**PATIENT, "mrn": f"R-{role}"}, headers=h),
        "read_patient": lambda: c.get(f"/api/clinic/patients/{pid}"),
        "record_score": lambda: c.post(f"/api/clinic/patients/{pid}/scores", headers=h,
                                       json={"date": now.date().isoformat(), "scale": "MADRS", "score": 20}),
        "record_session": lambda: c.post(f"/api/clinic/patients/{pid}/sessions", headers=h, json={
            "started_at": now.isoformat(), "drug": "esketamine", "route": "intranasal", "dose_mg": 56}),
        "export_fhir": lambda: c.get(f"/api/clinic/patients/{pid}/fhir"),
        "read_audit": lambda: c.get("/api/clinic/audit"),
    }  # fmt: skip
    for action, call in calls.items():
        r = call()
        allowed = EXPECTED[action][role]
        assert (r.status_code < 300) == allowed and (allowed or r.status_code == 403), (
            role,
            action,
            r.status_code,
            r.text,
        )


def test_ids_of_other_sites_and_bad_input_are_refused(app: Any, tmp_path: Path) -> None:
    doc, h = client(app, "prescriber")
    pid = doc.post("/api/clinic/patients", json=PATIENT, headers=h).json()["id"]
    assert doc.get("/api/clinic/patients/not-an-id").status_code == 404
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    bad = [
        ({"date": tomorrow, "scale": "MADRS", "score": 10}, "date"),
        ({"date": "2026-01-01", "scale": "MADRS", "score": 99}, "score"),
        ({"date": "2026-01-01", "scale": "PHQ-9", "items": [1, 2]}, "items"),
        ({"date": "2026-01-01", "scale": "PHQ-9", "items": [1] * 9, "score": 3}, "score"),
        ({"date": "2026-01-01", "scale": "MADRS", "score": float("nan")}, "score"),
    ]
    for body, field in bad:
        r = doc.post(
            f"/api/clinic/patients/{pid}/scores", content=_json(body), headers={**h, "content-type": "application/json"}
        )
        assert r.status_code == 422 and field in r.text, (body, r.status_code, r.text)
    r = doc.post("/api/clinic/patients", json={**PATIENT, "weight_kg": True}, headers=h)
    assert r.status_code == 422 and "weight_kg" in r.text
    r = doc.post("/api/clinic/patients", json={**PATIENT, "mrn": "NEW-1", "name": "Mary Doe\u0000"}, headers=h)
    assert r.status_code == 422 and "name" in r.text and "U+0000 is a control character" in r.text, r.text
    session = {"started_at": datetime.now(UTC).isoformat(), "drug": "esketamine", "route": "intranasal", "dose_mg": 112}
    r = doc.post(f"/api/clinic/patients/{pid}/sessions", headers=h, json=session)
    assert r.status_code == 422 and "dose_mg" in r.text
    assert len(doc.get(f"/api/clinic/patients/{pid}").json()["trajectory"]) == 0  # nothing was written


def _json(body: dict[str, Any]) -> str:
    import json

    return json.dumps(body, allow_nan=True)


def test_sign_ins_are_throttled_per_address(app: Any) -> None:
    c, _ = client(app)
    codes = [c.post("/api/clinic/login", json={"username": "nurse", "password": "not the password"}).status_code
             for _ in range(11)]  # fmt: skip
    assert codes[:10] == [401] * 10 and codes[10] == 429
    r = c.post("/api/clinic/login", json={"username": "nurse", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1  # even the right password waits


def test_the_throttle_window_slides_and_its_memory_is_bounded() -> None:
    from ketasim.api.throttle import LoginThrottle

    now = [0.0]
    t = LoginThrottle(attempts=3, window_s=60.0, max_clients=2, clock=lambda: now[0])
    assert [t.retry_after("a") for _ in range(3)] == [0, 0, 0]
    assert t.retry_after("a") == 61
    now[0] = 30.0
    assert t.retry_after("a") == 31  # the first attempt leaves the window at 60 s
    now[0] = 60.0
    assert t.retry_after("a") == 0
    t.retry_after("b")
    t.retry_after("c")  # a third address: the oldest ("a") is forgotten
    assert "a" not in t._seen and len(t._seen) == 2


def _web_client(app: Any, user: str) -> tuple[TestClient, str]:
    """A browser-like client signed in through the HTML form, and the pages' CSRF token."""
    import re

    c = TestClient(app, base_url="http://localhost")
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/clinic/login").text)
    assert token is not None
    r = c.post("/clinic/login", data={"username": user, "password": PASSWORD, "csrf": token.group(1)})
    assert r.status_code == 200, r.text  # followed to the dashboard
    page = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert page is not None
    return c, page.group(1)


def test_what_the_registry_could_not_keep_is_refused_and_its_pages_still_open(app: Any) -> None:
    """Found by an audit of the entries: a session dated 9999 was stored and then broke the
    dashboard (500) for every user; a dose over 5,000 mg, a reading minute of 1e12 or an answer
    '²' gave a 500. Each is now a 422 naming the field, and nothing is written."""
    doc, h = client(app, "prescriber")
    pid = doc.post("/api/clinic/patients", json=PATIENT, headers=h).json()["id"]
    now = datetime.now(UTC).isoformat()
    nasal = {"drug": "esketamine", "route": "intranasal", "device_times_min": [0, 5]}
    bad_sessions = [
        ({**nasal, "started_at": "9999-12-31T23:59:59+00:00", "dose_mg": 56}, "started_at"),
        ({**nasal, "started_at": "0001-01-01T00:00:00+00:00", "dose_mg": 56}, "started_at"),
        ({**nasal, "started_at": "1950-01-01T09:00:00+00:00", "dose_mg": 56}, "started_at"),  # before her birth
        ({**nasal, "started_at": 5, "dose_mg": 56}, "started_at"),  # a number is not a time
        ({**nasal, "started_at": now, "dose_mg": 100_000}, "dose_mg"),
        (
            {"drug": "racemic_ketamine", "route": "iv", "infusion_end_min": 40, "started_at": now, "dose_mg": 1e6},
            "dose_mg",
        ),
    ]
    for body, field in bad_sessions:
        r = doc.post(f"/api/clinic/patients/{pid}/sessions", headers=h, json=body)
        assert r.status_code == 422 and field in r.text, (body, r.status_code, r.text)
    r = doc.post(
        f"/api/clinic/patients/{pid}/scores", headers=h, json={"date": "0001-01-01", "scale": "MADRS", "score": 20}
    )
    assert r.status_code == 422 and "date" in r.text and "outside 1900-01-01" in r.text, r.text
    assert doc.get("/api/clinic/dashboard").status_code == 200
    record = doc.get(f"/api/clinic/patients/{pid}")
    assert record.status_code == 200 and record.json()["trajectory"] == []

    web, csrf = _web_client(app, "nurse")
    sheet = {"csrf": csrf, "drug": "esketamine", "route": "intranasal", "dose_mg": "56", "started_minutes_ago": "10"}
    bad_forms = [
        (f"/clinic/patients/{pid}/sessions", {**sheet, "systolic_mmhg_0": "130", "minute_0": "1e12"}, "minute_0"),
        (f"/clinic/patients/{pid}/sessions", {**sheet, "systolic_mmhg_0": "130", "minute_0": "-1e300"}, "minute_0"),
        (f"/clinic/patients/{pid}/sessions", {**sheet, "dose_mg": "6000"}, "dose_mg"),
        (
            f"/clinic/patients/{pid}/questionnaires",
            {"csrf": csrf, "instrument": "PHQ-9", "items": "² 1 1 1 1 1 1 1 1"},
            "items",
        ),
        (
            f"/clinic/patients/{pid}/questionnaires",
            {"csrf": csrf, "instrument": "PHQ-9", "items": "--1 1 1 1 1 1 1 1 1"},
            "items",
        ),
        (
            f"/clinic/patients/{pid}/questionnaires",
            {"csrf": csrf, "instrument": "PHQ-9", "items": "٣ 1 1 1 1 1 1 1 1"},
            "items",
        ),
    ]
    for url, form, field in bad_forms:
        r = web.post(url, data=form, follow_redirects=False)
        assert r.status_code == 422 and field in r.text, (form, r.status_code, r.text[-300:])
    assert web.get("/clinic").status_code == 200
    assert doc.get(f"/api/clinic/patients/{pid}").json()["trajectory"] == []
    # the planner's age_years may come along, but must be a number that agrees with the date of birth
    for age in (float("nan"), 17, True):
        r = doc.post(
            "/api/clinic/patients",
            content=_json({**PATIENT, "mrn": "A-101", "age_years": age}),
            headers={**h, "content-type": "application/json"},
        )
        assert r.status_code == 422 and "age_years" in r.text, (age, r.text)
    today = datetime.now(UTC).date()
    years = today.year - 1968 - ((today.month, today.day) < (2, 29))  # born 1968-02-29
    agreeing = {**PATIENT, "mrn": "A-102", "age_years": years}
    assert doc.post("/api/clinic/patients", json=agreeing, headers=h).status_code == 201
    r = doc.post(
        f"/api/clinic/patients/{pid}/sessions",
        headers=h,
        json={**nasal, "started_at": now, "dose_mg": 56, "lot_number": "a\u0000b"},
    )
    assert r.status_code == 422 and "lot_number" in r.text


def test_a_course_past_the_planners_days_opens_with_a_note_in_the_api_and_the_page(app: Any) -> None:
    """A session more than 730 days before the latest score (years of maintenance, or a wrong
    year typed) made the record a 422 for every reader: the planner takes at most 730 days."""
    doc, h = client(app, "prescriber")
    pid = doc.post("/api/clinic/patients", json=PATIENT, headers=h).json()["id"]
    now = datetime.now(UTC)
    for start in (now - timedelta(days=800), now - timedelta(hours=2)):
        body = {"started_at": start.isoformat(), "drug": "esketamine", "route": "intranasal", "dose_mg": 56}
        assert doc.post(f"/api/clinic/patients/{pid}/sessions", headers=h, json=body).status_code == 201
    score = {"date": now.date().isoformat(), "scale": "MADRS", "score": 14}
    assert doc.post(f"/api/clinic/patients/{pid}/scores", json=score, headers=h).status_code == 201
    r = doc.get(f"/api/clinic/patients/{pid}")
    assert r.status_code == 200, r.text
    record = r.json()
    assert record["forecast"] is None and record["review"] is None and record["state"]["responded"] is True
    assert "730 days" in record["forecast_note"] and len(record["trajectory"]) == 1
    web, _ = _web_client(app, "nurse")
    page = web.get(f"/clinic/patients/{pid}")
    assert page.status_code == 200 and 'id="forecast-note"' in page.text and "730 days" in page.text


def test_signing_in_again_ends_the_session_the_client_had(app: Any) -> None:
    """Found by a security audit: a second sign-in left the first session alive until idle."""
    from ketasim.api.routers._session import COOKIE

    c, _ = client(app, "nurse")
    first = c.cookies.get(COOKIE)
    assert first and c.get("/api/clinic/dashboard").status_code == 200
    r = c.post("/api/clinic/login", json={"username": "nurse", "password": PASSWORD})
    assert r.status_code == 200 and c.cookies.get(COOKIE) != first
    assert c.get("/api/clinic/dashboard").status_code == 200
    stale = TestClient(app, base_url="http://localhost", cookies={COOKIE: first})
    assert stale.get("/api/clinic/dashboard").status_code == 401


def test_break_glass_over_http(tmp_path: Path) -> None:
    """A nurse reaches another site's patient after stating why; bad bodies are 422."""
    from test_registry import PATIENT as STORED_PATIENT

    registry = Registry.open(f"sqlite:///{tmp_path / 'bg.db'}")
    admin = registry.create_user(None, "admin", "Ada", "admin", PASSWORD)
    registry.create_user(admin, "nurse", "Nat", "nurse", PASSWORD)
    registry.create_user(admin, "viewer", "Vi", "viewer", PASSWORD)
    north_doc = registry.create_user(admin, "north-doc", "Nor", "prescriber", PASSWORD, site="north")
    north = registry.add_patient(north_doc, STORED_PATIENT).uid
    app = create_app(Limits(forecast_copies=100, cache_dir=tmp_path / "cache"), registry=registry)
    app.state.phone = enrol(registry, "admin", PASSWORD)
    nurse, h = client(app, "nurse")
    assert nurse.get(f"/api/clinic/patients/{north}").status_code == 404
    url = f"/api/clinic/patients/{north}/break-glass"
    why = "seen in our emergency room tonight"
    bodies = [({"reason": "urgent"}, "reason"), ({"reason": 1234567890123}, "reason"), ({}, "reason"),
              ({"reason": why, "until": "2099-01-01"}, "until")]  # fmt: skip
    for body, field in bodies:
        r = nurse.post(url, json=body, headers=h)
        assert r.status_code == 422 and field in r.text, (body, r.status_code, r.text)
    assert nurse.post(url, json={"reason": why}).status_code == 403  # no CSRF token
    for role in ("viewer", "admin"):  # reading-only and account roles may not break the glass
        other, oh = client(app, role)
        assert other.post(url, json={"reason": why}, headers=oh).status_code == 403, role
    r = nurse.post(url, json={"reason": why}, headers=h)
    assert r.status_code == 201 and set(r.json()) == {"id", "until"}, r.text
    assert nurse.get(f"/api/clinic/patients/{north}").status_code == 200
    registry.engine.dispose()


def test_an_administrator_sets_up_a_second_factor_over_http(tmp_path: Path) -> None:
    """ASVS 4.3.1: an admin's password alone opens only the set-up; then it takes a code,
    each code once; bad codes are 422 (set-up) or the same 401 as a wrong password."""
    from authenticator import Authenticator
    from ketasim.api.routers._session import COOKIE

    registry = Registry.open(f"sqlite:///{tmp_path / 'mfa.db'}")
    registry.create_user(None, "admin", "Ada", "admin", PASSWORD)
    app = create_app(Limits(forecast_copies=100, cache_dir=tmp_path / "cache"), registry=registry)
    c = TestClient(app, base_url="http://localhost")
    r = c.post("/api/clinic/login", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["set_up_second_factor"] is True, r.text
    h = {"X-CSRF-Token": r.json()["csrf_token"]}
    refused = c.get("/api/clinic/audit")
    assert refused.status_code == 403 and "second factor" in refused.text
    assert c.post("/api/clinic/second-factor").status_code == 403  # no CSRF token
    setup = c.post("/api/clinic/second-factor", headers=h).json()
    assert set(setup) == {"secret", "uri"} and len(setup["secret"]) == 32, setup
    assert setup["uri"].startswith("otpauth://totp/ketasim:admin%40main?") and "issuer=ketasim" in setup["uri"]
    assert c.post("/api/clinic/second-factor", headers=h).json() == setup  # the same key until confirmed
    phone = Authenticator(setup["secret"])
    wrong = f"{(int(phone.totp.now()) + 1) % 10**6:06d}"
    for bad in ("", "12345", "abcdef", "１２３４５６", wrong, 123456, None, True, ["123456"]):
        r = c.post("/api/clinic/second-factor/confirm", json={"code": bad}, headers=h)
        assert r.status_code == 422 and "code" in r.text, (bad, r.status_code, r.text)
    attacker = TestClient(app, base_url="http://localhost")  # another session, with the password alone
    ah = {"X-CSRF-Token": attacker.post("/api/clinic/login", json={"username": "admin", "password": PASSWORD})
          .json()["csrf_token"]}  # fmt: skip
    assert attacker.post("/api/clinic/second-factor", headers=ah).json()["secret"] != setup["secret"]  # its own
    old_cookie = c.cookies.get(COOKIE)
    r = c.post("/api/clinic/second-factor/confirm", json={"code": phone.code()}, headers=h)
    assert r.status_code == 200 and set(r.json()) == {"detail", "csrf_token"}, r.text
    assert c.cookies.get(COOKIE) != old_cookie  # a new session for this client (ASVS 3.2.1)
    h = {"X-CSRF-Token": r.json()["csrf_token"]}
    assert c.get("/api/clinic/audit").status_code == 200
    assert attacker.get("/api/clinic/audit").status_code == 401  # every other session ended
    again = c.post("/api/clinic/second-factor", headers=h)
    assert again.status_code == 422 and "already set up" in again.text
    fresh = TestClient(app, base_url="http://localhost")
    for code in ("", wrong, 123456, None):
        r = fresh.post("/api/clinic/login", json={"username": "admin", "password": PASSWORD, "code": code})
        assert r.status_code == 401 and "code" in r.text, (code, r.text)
    code = phone.code()
    r = fresh.post("/api/clinic/login", json={"username": "admin", "password": PASSWORD, "code": code})
    assert r.status_code == 200 and r.json()["set_up_second_factor"] is False, r.text
    replayed = TestClient(app, base_url="http://localhost")
    r = replayed.post("/api/clinic/login", json={"username": "admin", "password": PASSWORD, "code": code})
    assert r.status_code == 401  # a code is used once
    rows = fresh.get("/api/clinic/audit").json()
    assert {"second_factor"} <= {row["action"] for row in rows} and "enrol_only" in {row["outcome"] for row in rows}
    assert setup["secret"] not in fresh.get("/api/clinic/audit").text
    registry.engine.dispose()


def test_an_over_long_password_is_refused_like_a_wrong_one_and_never_echoed(app: Any) -> None:
    c = TestClient(app, base_url="http://localhost")
    c.get("/clinic/login")
    typed = "Not4Echo-" * 20  # 180 characters
    for form in ({"username": "nurse", "password": typed}, {"username": typed, "password": PASSWORD},
                 {"username": "admin", "password": PASSWORD, "code": typed}):  # fmt: skip
        r = c.post("/clinic/login", data={**form, "csrf": c.cookies.get("ks_login_csrf") or ""})
        assert r.status_code == 401 and "Not4Echo" not in r.text, r.text[:300]
        r = c.post("/api/clinic/login", json=form)
        assert r.status_code == 401 and "Not4Echo" not in r.text, r.text[:300]


CLINIC_PAGES = [
    ("get", "/clinic"), ("get", "/clinic/patients"), ("post", "/clinic/patients"), ("get", "/clinic/patients/new"),
    ("post", "/clinic/patients/new"), ("post", "/clinic/break-glass"), ("get", "/clinic/second-factor"),
    ("post", "/clinic/second-factor"), ("get", "/clinic/audit"), ("get", "/clinic/audit.csv"),
    ("get", "/clinic/patients/{pid}"), ("post", "/clinic/logout"),
]  # fmt: skip


def test_every_clinic_page_needs_a_session_and_the_new_forms_refuse_other_roles(app: Any) -> None:
    """The pages' routes without a session go to sign in; the new-patient and emergency forms
    are refused (403, audited as denied) to viewers and administrators, with a valid token."""
    doc, h = client(app, "prescriber")
    pid = doc.post("/api/clinic/patients", json=PATIENT, headers=h).json()["id"]
    anonymous = TestClient(app, base_url="http://localhost", follow_redirects=False)
    for method, path in CLINIC_PAGES:
        r = getattr(anonymous, method)(path.format(pid=pid))
        assert r.status_code == 303 and r.headers["location"] == "/clinic/login", (method, path, r.status_code)
    form = {"mrn": "MRN-9", "given_name": "A", "family_name": "B", "birth_date": "1980-01-01", "sex": "female",
            "weight_kg": "70", "height_cm": "170", "failed_antidepressant_trials": "2", "systolic_mmhg": "120",
            "diastolic_mmhg": "80", "heart_rate_bpm": "70", "spo2_pct": "98", "baseline_score": "30"}  # fmt: skip
    for role in ("viewer", "admin"):
        c, ch = client(app, role)
        token = ch["X-CSRF-Token"]  # the pages and the API share the session and its token
        assert c.get("/clinic/patients/new").status_code == 403, role
        r = c.post("/clinic/patients/new", data={**form, "csrf": token})
        assert r.status_code == 403 and "may not write" in r.text, (role, r.status_code)
        r = c.post("/clinic/break-glass", data={"patient": pid, "reason": "an emergency tonight", "csrf": token})
        assert r.status_code == 403, (role, r.status_code)
    admin, _ = client(app, "admin")
    denied = [row for row in admin.get("/api/clinic/audit").json() if row["outcome"] == "denied"]
    assert {row["user"] for row in denied} >= {"viewer", "admin"}, denied
