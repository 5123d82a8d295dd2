"""The registry's JSON API under ``/api/clinic`` (issue 13's contract; keep these names).

``POST /api/clinic/login`` ``{"username", "password"}`` (and ``"code"``, the authenticator's
6 digits, for an account with a second factor) sets the session cookie and returns
``{"csrf_token", "set_up_second_factor"}``; the token goes back in ``X-CSRF-Token`` with every
state-changing request. An administrator without a second factor is signed in to set one up
only (``set_up_second_factor`` true): ``POST /api/clinic/second-factor`` gives the secret,
``POST /api/clinic/second-factor/confirm`` ``{"code"}`` confirms it; anything else is refused
(403, or 422 for a body that is not even valid).
Without a session: 401; with a role that may not: 403; without the CSRF header: 403; an id
this user may not see (unknown, or another site's): 404; bad input: 422 naming the field.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response

from ketasim import DISCLAIMER
from ketasim.api.routers._session import COOKIE, live_session, set_cookie
from ketasim.api.throttle import LoginThrottle
from ketasim.errors import InputError
from ketasim.registry import (
    Actor,
    RecordNotFoundError,
    Registry,
    RegistryError,
    dashboard,
    export_fhir,
    patient_status,
)
from ketasim.registry._inputs import EmergencyIn, parse

PLANNER_FIELDS = (
    "weight_kg", "height_cm", "diagnoses", "failed_antidepressant_trials", "history", "concomitant_medications",
    "pregnant", "vitals", "baseline_scores", "treatment", "weight_basis",
)  # fmt: skip
"""The planner's patient fields kept with a patient (docs/planner.md)."""
MAX_BODY_FIELDS = 60

Json = Annotated[dict[str, Any], Body()]


@contextmanager
def answers() -> Iterator[None]:
    """Refusals as HTTP: 403 permission, 404 no such record for this user (422 input: the
    app's handler)."""
    try:
        yield
    except PermissionError as err:
        raise HTTPException(403, str(err)) from None
    except RecordNotFoundError as err:
        raise HTTPException(404, "; ".join(f"{f}: {m}" for f, m in err.problems)) from None


def _check_age(age: Any, birth: Any) -> None:
    """The planner's ``age_years`` may come along, but the registry takes the age from the date
    of birth: it must be a number that agrees with it (to a year)."""
    if age is None:
        return
    if isinstance(age, bool) or not isinstance(age, int | float) or not math.isfinite(age):
        raise RegistryError.one("age_years", f"{age!r} is not a finite number")
    try:
        born = date.fromisoformat(birth) if isinstance(birth, str) else None
    except ValueError:
        born = None
    if born is None:
        return  # the date of birth is refused on its own
    today = datetime.now(UTC).date()
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if abs(age - years) > 1:
        raise RegistryError.one(
            "age_years",
            f"{age:g} disagrees with birth_date {born} (age {years}); the age is taken from the date of birth",
        )


def patient_from_contract(body: dict[str, Any]) -> dict[str, Any]:
    """The contract's patient (the planner's patient JSON plus ``name``, ``birth_date``,
    ``mrn``) as the registry's :class:`~ketasim.registry.PatientIn` fields."""
    if len(body) > MAX_BODY_FIELDS:
        raise RegistryError.one("(body)", f"at most {MAX_BODY_FIELDS} fields")
    known = {"name", "birth_date", "mrn", "sex", "consent_off_label", "age_years", "observed_scores", *PLANNER_FIELDS}
    unknown = sorted(set(body) - known)
    if unknown:
        raise RegistryError.one(unknown[0], f"is not a patient field; allowed: {', '.join(sorted(known))}")
    if body.get("observed_scores"):
        raise RegistryError.one("observed_scores", "record scores with POST /api/clinic/patients/{id}/scores")
    _check_age(body.get("age_years"), body.get("birth_date"))
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise RegistryError.one("name", "the patient's full name (1–200 characters) is required")
    parts = name.split()
    return {
        "mrn": body.get("mrn"),
        "given_name": " ".join(parts[:-1]) or parts[0],
        "family_name": parts[-1],
        "birth_date": body.get("birth_date"),
        "sex": body.get("sex"),
        "consent_off_label": body.get("consent_off_label", False),
        "clinical": {k: body[k] for k in PLANNER_FIELDS if k in body},
    }


def score_from_contract(patient_uid: str, body: dict[str, Any]) -> dict[str, Any]:
    """``{"date", "scale", "items"}`` or ``{"date", "scale", "score"}`` as a questionnaire."""
    extra = sorted(set(body) - {"date", "scale", "items", "score"})
    if extra:
        raise RegistryError.one(extra[0], "is not a score field; allowed: date, scale, items, score")
    day = body.get("date")
    try:
        taken = date.fromisoformat(day) if isinstance(day, str) else None
    except ValueError:
        taken = None
    if taken is None:
        raise RegistryError.one("date", f"{day!r} is not a date (YYYY-MM-DD)")
    if taken > datetime.now(UTC).date():
        raise RegistryError.one("date", f"{taken} is in the future")
    data: dict[str, Any] = {
        "patient_uid": patient_uid,
        "instrument": body.get("scale"),
        "taken_at": datetime.combine(taken, time(12, 0), UTC).isoformat(),
    }
    if "items" in body:
        data["items"] = body["items"]
    if "score" in body:
        data["total"] = body["score"]
    return data


def router(registry: Registry, throttle: LoginThrottle) -> APIRouter:
    """The contract's endpoints for one registry (sign-ins throttled per client address)."""
    r = APIRouter(prefix="/api/clinic", tags=["clinic"])

    def signed_in(request: Request) -> tuple[Actor, str]:
        live = live_session(registry, request)
        if live is None:
            raise HTTPException(401, "sign in: POST /api/clinic/login")
        return live

    def changing(request: Request, session: tuple[Actor, str] = Depends(signed_in)) -> Actor:
        given = request.headers.get("x-csrf-token", "")
        if not given or not hmac.compare_digest(given.encode(), session[1].encode()):
            raise HTTPException(403, "the X-CSRF-Token header is missing or does not match the session")
        return session[0]

    def reading(session: tuple[Actor, str] = Depends(signed_in)) -> Actor:
        return session[0]

    @r.post("/login")
    def login(body: Json, response: Response, request: Request) -> dict[str, Any]:
        """Sign in; the session cookie is HttpOnly, SameSite=Strict (Secure over HTTPS)."""
        wait = throttle.retry_after(request.client.host if request.client else "-")
        if wait:
            raise HTTPException(429, "too many sign-in attempts from this address", headers={"Retry-After": str(wait)})
        username, password, code = body.get("username", ""), body.get("password", ""), body.get("code", "")
        try:  # the registry refuses what no account can have (not text, over-long) as a wrong sign-in
            who, token, csrf = registry.login(username, password, request.cookies.get(COOKIE, ""), code)
        except PermissionError as err:
            raise HTTPException(401, str(err)) from None
        set_cookie(response, request, token)
        return {"csrf_token": csrf, "set_up_second_factor": who.enrol_only}

    @r.post("/second-factor")
    def begin_second_factor(request: Request, _: Actor = Depends(changing)) -> dict[str, str]:
        """The secret for an authenticator app (``secret``, and ``uri`` for its QR code); the
        same one until this session confirms it. Refused (422) once a factor is set up."""
        with answers():
            return registry.begin_second_factor(request.cookies.get(COOKIE, "")).model_dump()

    @r.post("/second-factor/confirm")
    def confirm_second_factor(
        body: Json, request: Request, response: Response, _: Actor = Depends(changing)
    ) -> dict[str, str]:
        """Confirm the key with the ``code`` the app shows. Every session of the account ends and
        this client gets a new one, with a new ``csrf_token``, that may do what the role allows."""
        with answers():
            _, token, csrf = registry.confirm_second_factor(request.cookies.get(COOKIE, ""), body.get("code", ""))
        set_cookie(response, request, token)
        return {"detail": "second factor set up", "csrf_token": csrf}

    @r.post("/logout")
    def logout(request: Request, response: Response, _: Actor = Depends(changing)) -> dict[str, str]:
        """End the session (server-side)."""
        registry.logout(request.cookies.get(COOKIE, ""))
        response.delete_cookie(COOKIE, path="/")
        return {"detail": "signed out"}

    @r.post("/patients", status_code=201)
    def add_patient(body: Json, actor: Actor = Depends(changing)) -> dict[str, str]:
        """Register a patient: the planner's patient JSON plus name, birth_date, mrn."""
        with answers():
            return {"id": registry.add_patient(actor, patient_from_contract(body)).uid}

    @r.get("/patients")
    def list_patients(actor: Actor = Depends(reading)) -> list[dict[str, Any]]:
        """The site's patients (at most 1,000)."""
        with answers():
            return [p.model_dump(mode="json") for p in registry.patients(actor)]

    @r.get("/patients/{patient_id}")
    def patient(patient_id: str, actor: Actor = Depends(reading)) -> dict[str, Any]:
        """The record with the forecast (updated from every stored score) and the alerts."""
        with answers():
            record = registry.patient(actor, patient_id)
            status = patient_status(registry, actor, patient_id)
            sessions = registry.sessions(actor, patient_id)
        return {
            "id": patient_id,
            "record": record.model_dump(mode="json"),
            "sessions": [s.model_dump(mode="json") for s in sessions],
            **status.model_dump(mode="json", exclude={"patient_uid"}),
            "disclaimer": DISCLAIMER,
        }

    @r.post("/patients/{patient_id}/scores", status_code=201)
    def add_score(patient_id: str, body: Json, actor: Actor = Depends(changing)) -> dict[str, Any]:
        """A questionnaire (items) or a clinician's score, dated."""
        names = {"total": "score", "instrument": "scale", "taken_at": "date"}
        with answers():
            try:
                q = registry.record_questionnaire(actor, score_from_contract(patient_id, body))
            except RecordNotFoundError:
                raise
            except InputError as err:  # the contract's names, not the registry's
                renamed = [
                    (names.get(f.split(".")[0], f.split(".")[0]) + f[len(f.split(".")[0]) :], m)
                    for f, m in err.problems
                ]
                raise InputError([(f, m.replace("total:", "score:")) for f, m in renamed]) from None
        return {"id": q.uid, "total": q.total}

    @r.post("/patients/{patient_id}/break-glass", status_code=201)
    def break_glass(patient_id: str, body: Json, actor: Actor = Depends(changing)) -> dict[str, Any]:
        """Emergency access to a patient of another site, for a stated ``reason`` (prescribers
        and nurses; a few hours; audited at the start and at every use)."""
        if "patient_uid" in body and body["patient_uid"] != patient_id:
            raise InputError.one("patient_uid", "differs from the patient in the path")
        request = parse(EmergencyIn, {**body, "patient_uid": patient_id})
        with answers():
            grant = registry.break_glass(actor, request.patient_uid, request.reason)
        return {"id": grant.uid, "until": grant.until.isoformat()}

    @r.post("/patients/{patient_id}/sessions", status_code=201)
    def add_session(patient_id: str, body: Json, actor: Actor = Depends(changing)) -> dict[str, str]:
        """A treatment session (the registry's session fields; docs/registry.md), with its
        ``vitals`` readings if given: all saved or none."""
        if "patient_uid" in body and body["patient_uid"] != patient_id:
            raise InputError.one("patient_uid", "differs from the patient in the path")
        session = {k: v for k, v in body.items() if k != "vitals"}
        readings = body.get("vitals", [])
        if not isinstance(readings, list):
            raise InputError.one("vitals", "a list of readings is expected")
        with answers():
            return {"id": registry.record_session(actor, {**session, "patient_uid": patient_id}, readings).uid}

    @r.post("/sessions/{session_id}/vitals", status_code=201)
    def add_vitals(
        session_id: str, readings: Annotated[list[dict[str, Any]], Body()], actor: Actor = Depends(changing)
    ) -> dict[str, int]:
        """Readings during a session (all or none are saved)."""
        with answers():
            return {"saved": len(registry.add_vitals(actor, session_id, readings))}

    @r.get("/patients/{patient_id}/fhir")
    def fhir(patient_id: str, actor: Actor = Depends(reading)) -> dict[str, Any]:
        """The patient's course as a FHIR R4B Bundle."""
        with answers():
            return export_fhir(registry, actor, patient_id)

    @r.get("/dashboard")
    def day(actor: Actor = Depends(reading)) -> dict[str, Any]:
        """Patients due, alerts, REMS forms not submitted."""
        with answers():
            return dashboard(registry, actor).model_dump(mode="json")

    @r.get("/audit")
    def audit_rows(
        actor: Actor = Depends(reading), patient_id: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """The audit (admins): who, what, which patient, when."""
        with answers():
            rows = registry.audit_log(actor, patient_id, limit)
        return [
            {"user": a.username, "action": a.action, "entity": a.entity, "record": a.entity_uid,
             "patient_id": a.patient_uid, "outcome": a.outcome, "at": a.at.isoformat()}
            for a in rows
        ]  # fmt: skip

    return r
