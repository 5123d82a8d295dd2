"""The clinic's pages over the registry (``ketasim serve --db URL``): sign in, the dashboard,
a patient's course, forms for sessions, readings and questionnaires, the REMS form.

Server-rendered HTML forms (no script), a server-side session behind an HttpOnly,
SameSite=Strict cookie (Secure over HTTPS), a CSRF token in every form checked on every
POST (and a double-submit token on the sign-in form), deny-by-default authorisation and the
audit in :mod:`ketasim.registry`.  Patient data never goes to the logs: URLs carry ids only.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined

from ketasim import DISCLAIMER
from ketasim.api.routers._forms import number, patient_from_form, problems_text, session_from_form, whole_number
from ketasim.api.routers._session import COOKIE, live_session, set_cookie
from ketasim.api.routers.model import page_vocabulary
from ketasim.api.throttle import LoginThrottle
from ketasim.clinic.patient import TREATMENTS
from ketasim.errors import InputError
from ketasim.registry import (
    Actor,
    RecordNotFoundError,
    Registry,
    dashboard,
    instruments,
    patient_status,
    rems_form,
    save_plan,
)
from ketasim.registry._care import hold_limits
from ketasim.registry._exports import RemsForm
from ketasim.registry._registry import EMERGENCY_HOURS

LOGIN_COOKIE = "ks_login_csrf"
_ENV = Environment(loader=PackageLoader("ketasim", "web/templates"), autoescape=True, undefined=StrictUndefined)
MAX_FORM_ITEMS = 20


class _RefusedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


SECOND_FACTOR_PAGE = "/clinic/second-factor"
WRITERS = ("prescriber", "nurse")
"""The roles that record care (and may break the glass)."""


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_cell(text: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP CSV injection): one that
    starts like a formula gets a leading apostrophe (a lone "-", the audit's no-name, stays)."""
    return "'" + text if text.startswith(FORMULA_STARTS) and text != "-" else text


@contextmanager
def refusals() -> Iterator[None]:
    """A refused permission is a 403 page, refused input a 422 page (never a 5xx)."""
    try:
        yield
    except PermissionError as err:
        raise _RefusedError(403, str(err)) from None
    except RecordNotFoundError as err:
        raise _RefusedError(404, problems_text(err)) from None
    except InputError as err:
        raise _RefusedError(422, problems_text(err)) from None


def _page(template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    html = _ENV.get_template(template).render(disclaimer=DISCLAIMER, **context)
    return HTMLResponse(html, status_code=http_status, headers={"cache-control": "no-store"})


def router(registry: Registry, throttle: LoginThrottle) -> APIRouter:
    """The clinic pages for one registry (sign-ins throttled per client address)."""
    r = APIRouter(prefix="/clinic", include_in_schema=False)

    def signed_to_enrol(request: Request) -> tuple[Actor, str]:
        """The session, also one of an administrator who must set up a second factor first."""
        live = live_session(registry, request)
        if live is None:
            raise _RefusedError(401, "sign in")
        return live

    def signed_in(session: tuple[Actor, str] = Depends(signed_to_enrol)) -> tuple[Actor, str]:
        """The session of someone who may use the pages (others go to set up a second factor)."""
        if session[0].enrol_only:
            raise _RefusedError(303, SECOND_FACTOR_PAGE)
        return session

    signed, enrolling = Depends(signed_in), Depends(signed_to_enrol)

    def check_csrf(expected: str, given: str) -> None:
        if not given or not hmac.compare_digest(expected.encode(), given.encode()):
            raise _RefusedError(403, "the form's security token is missing or stale: reload the page and try again")

    # ---- sign in / out -------------------------------------------------------------------

    @r.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        token = secrets.token_urlsafe(32)
        response = _page("clinic_login.html.j2", csrf=token, message=None)
        set_cookie(response, request, token, LOGIN_COOKIE)
        return response

    @r.post("/login", response_class=HTMLResponse)
    def login(
        request: Request,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf: Annotated[str, Form(max_length=100)] = "",
        code: Annotated[str, Form()] = "",
    ) -> Response:
        """Sign in. The fields' lengths are checked by the registry, which refuses an over-long
        one like any wrong sign-in (a form check's message would echo what was typed)."""
        check_csrf(request.cookies.get(LOGIN_COOKIE, ""), csrf)
        if throttle.retry_after(request.client.host if request.client else "-"):
            raise _RefusedError(429, "too many sign-in attempts from this address: wait a minute")
        try:
            who, token, _ = registry.login(username, password, request.cookies.get(COOKIE, ""), code)
        except PermissionError as err:
            fresh = secrets.token_urlsafe(32)
            response = _page("clinic_login.html.j2", 401, csrf=fresh, message=str(err))
            set_cookie(response, request, fresh, LOGIN_COOKIE)
            return response
        done = RedirectResponse(SECOND_FACTOR_PAGE if who.enrol_only else _start(who), status_code=303)
        set_cookie(done, request, token)
        done.delete_cookie(LOGIN_COOKIE, path="/")
        return done

    @r.post("/logout")
    def logout(
        request: Request, session: tuple[Actor, str] = enrolling, csrf: Annotated[str, Form(max_length=100)] = ""
    ) -> Response:
        check_csrf(session[1], csrf)
        registry.logout(request.cookies.get(COOKIE, ""))
        response = RedirectResponse("/clinic/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @r.get("/second-factor", response_class=HTMLResponse)
    def second_factor_page(request: Request, session: tuple[Actor, str] = enrolling) -> Response:
        """Set up a second factor: the secret as a QR code and as text, and a field for the
        code the authenticator then shows (administrators must; anyone may)."""
        return _second_factor_page(request, *session)

    @r.post("/second-factor", response_class=HTMLResponse)
    def confirm_second_factor(
        request: Request,
        session: tuple[Actor, str] = enrolling,
        code: Annotated[str, Form(max_length=12)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        """Confirm the key with a code: every session of the account ends, and this browser
        gets a new one (a session opened with the password alone never becomes complete)."""
        actor, expected = session
        check_csrf(expected, csrf)
        try:
            done, token, _ = registry.confirm_second_factor(request.cookies.get(COOKIE, ""), code)
        except InputError as err:
            return _second_factor_page(request, actor, expected, problems_text(err), 422)
        except PermissionError as err:
            raise _RefusedError(403, str(err)) from None
        response = RedirectResponse(_start(done), status_code=303)
        set_cookie(response, request, token)
        return response

    def _second_factor_page(
        request: Request, actor: Actor, csrf: str, message: str | None = None, status: int = 200
    ) -> Response:
        import segno

        try:
            setup = registry.begin_second_factor(request.cookies.get(COOKIE, ""))
        except InputError as err:  # already set up
            return _page("clinic_second_factor.html.j2", actor=actor, csrf=csrf, setup=None, message=problems_text(err))
        except PermissionError as err:
            raise _RefusedError(403, str(err)) from None
        qr = segno.make(setup.uri, error="m").svg_inline(
            scale=4, title="QR code of the secret", dark="#000", light="#fff"
        )
        groups = " ".join(setup.secret[i : i + 4] for i in range(0, len(setup.secret), 4))
        return _page(
            "clinic_second_factor.html.j2", status, actor=actor, csrf=csrf, setup=setup, qr=qr, groups=groups,
            message=message,
        )  # fmt: skip

    # ---- pages ---------------------------------------------------------------------------------

    @r.get("", response_class=HTMLResponse)
    def home(session: tuple[Actor, str] = signed) -> Response:
        actor, csrf = session
        with refusals():
            board = dashboard(registry, actor)
        return _page("clinic_dashboard.html.j2", actor=actor, csrf=csrf, board=board)

    @r.get("/patients", response_class=HTMLResponse)
    def patients(session: tuple[Actor, str] = signed) -> Response:
        """The site's patients."""
        return _patients_page(*session, "")

    @r.post("/patients", response_class=HTMLResponse)
    def search_patients(
        session: tuple[Actor, str] = signed,
        q: Annotated[str, Form(max_length=100)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        """Those whose name or MRN contains ``q``: posted, so that a name never sits in a URL
        (proxy logs, browser history)."""
        check_csrf(session[1], csrf)
        return _patients_page(*session, q)

    def _patients_page(
        actor: Actor,
        csrf: str,
        q: str,
        message: str | None = None,
        status: int = 200,
        glass: tuple[str, str] = ("", ""),
    ) -> Response:
        """The site's patients; ``glass``: the emergency-access form's patient id and reason."""
        with refusals():
            found = registry.patients(actor)
        term = q.strip().casefold()
        if term:
            found = [p for p in found if term in f"{p.given_name} {p.family_name} {p.mrn}".casefold()]
        return _page(
            "clinic_patients.html.j2", status, actor=actor, csrf=csrf, patients=found, q=q, message=message,
            can_write=actor.role in WRITERS, emergency_hours=f"{EMERGENCY_HOURS:g}", glass=glass,
        )  # fmt: skip

    @r.post("/break-glass", response_class=HTMLResponse)
    def break_glass(
        session: tuple[Actor, str] = signed,
        patient: Annotated[str, Form(max_length=64)] = "",
        reason: Annotated[str, Form(max_length=1000)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        """Emergency access to a patient of another site, after stating why (prescribers and
        nurses; a few hours; the grant and every use are audited for both sites)."""
        actor, expected = session
        check_csrf(expected, csrf)
        try:
            grant = registry.break_glass(actor, patient.strip(), reason)
        except RecordNotFoundError as err:
            return _patients_page(actor, expected, "", problems_text(err), 404, (patient, reason))
        except InputError as err:
            return _patients_page(actor, expected, "", problems_text(err), 422, (patient, reason))
        except PermissionError as err:
            raise _RefusedError(403, str(err)) from None
        return RedirectResponse(f"/clinic/patients/{grant.patient_uid}", status_code=303)

    @r.get("/patients/new", response_class=HTMLResponse)
    def new_patient_page(session: tuple[Actor, str] = signed) -> Response:
        """Register a patient: identity, consent and the planner's fields (prescribers, nurses)."""
        return _new_patient_page(*session, {})

    @r.post("/patients/new", response_class=HTMLResponse)
    async def add_patient(request: Request, session: tuple[Actor, str] = signed) -> Response:
        actor, expected = session
        form = await request.form(max_files=0, max_fields=60)
        check_csrf(expected, str(form.get("csrf", "")))
        values = {key: [str(v) for v in form.getlist(key)] for key in form}
        try:
            record = registry.add_patient(actor, patient_from_form(values))
        except InputError as err:
            return _new_patient_page(actor, expected, values, problems_text(err), 422)
        except PermissionError as err:
            raise _RefusedError(403, str(err)) from None
        return RedirectResponse(f"/clinic/patients/{record.uid}", status_code=303)

    def _new_patient_page(
        actor: Actor, csrf: str, values: dict[str, list[str]], message: str | None = None, status: int = 200
    ) -> Response:
        if actor.role not in WRITERS:
            raise _RefusedError(403, f"role {actor.role!r} may not write clinical")
        return _page(
            "clinic_new_patient.html.j2", status, actor=actor, csrf=csrf, message=message, vocabulary=page_vocabulary(),
            treatments=sorted(TREATMENTS), one=lambda key, default="": (values.get(key) or [default])[0],
            many=lambda key: values.get(key, []),
        )  # fmt: skip

    @r.get("/audit", response_class=HTMLResponse)
    def audit_page(session: tuple[Actor, str] = signed, patient: str = "", limit: int = 200) -> Response:
        """The audit trail (admins); ``?patient=ID`` narrows it to one patient."""
        actor, csrf = session
        with refusals():
            rows = registry.audit_log(actor, patient or None, max(1, min(limit, 10_000)))
        return _page("clinic_audit.html.j2", actor=actor, csrf=csrf, rows=rows, patient=patient)

    @r.get("/audit.csv")
    def audit_csv(session: tuple[Actor, str] = signed, patient: str = "") -> Response:
        """The audit trail as CSV (admins): who, what, which record and patient, when, outcome."""
        import csv
        import io

        actor, _ = session
        with refusals():
            rows = registry.audit_log(actor, patient or None, 10_000)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["at", "user", "action", "entity", "record", "patient_id", "outcome"])
        for a in rows:
            cells = [a.username, a.action, a.entity, a.entity_uid or "", a.patient_uid or "", a.outcome]
            writer.writerow([a.at.isoformat(), *map(inert_cell, cells)])
        return Response(
            out.getvalue(),
            media_type="text/csv",
            headers={"content-disposition": 'attachment; filename="audit.csv"', "cache-control": "no-store"},
        )

    @r.get("/patients/{patient_uid}", response_class=HTMLResponse)
    def patient(patient_uid: str, session: tuple[Actor, str] = signed) -> Response:
        actor, csrf = session
        with refusals():
            return _patient_page(actor, csrf, patient_uid)

    def _patient_page(
        actor: Actor, csrf: str, patient_uid: str, message: str | None = None, status: int = 200
    ) -> Response:
        from ketasim.reporting.figures import plot_forecast
        from ketasim.reporting.html import data_uri

        record = registry.patient(actor, patient_uid)
        state = patient_status(registry, actor, patient_uid)
        chart = data_uri(plot_forecast(state.forecast)) if state.forecast is not None else None
        return _page(
            "clinic_patient.html.j2",
            status,
            actor=actor,
            csrf=csrf,
            patient=record,
            status=state,
            chart=chart,
            sessions=registry.sessions(actor, patient_uid),
            questionnaires=registry.questionnaires(actor, patient_uid),
            instruments=instruments(),
            message=message,
            can_write=actor.role in WRITERS,
            hold=hold_limits(),
            reading_minutes=(-5, 40, 120),
        )

    @r.post("/patients/{patient_uid}/questionnaires")
    def add_questionnaire(
        request: Request,
        patient_uid: str,
        instrument: Annotated[str, Form(max_length=20)],
        session: tuple[Actor, str] = signed,
        csrf: Annotated[str, Form(max_length=100)] = "",
        items: Annotated[str, Form(max_length=200)] = "",
        total: Annotated[str, Form(max_length=20)] = "",
    ) -> Response:
        actor, expected = session
        check_csrf(expected, csrf)
        data: dict[str, Any] = {
            "patient_uid": patient_uid,
            "instrument": instrument,
            "taken_at": datetime.now(UTC).isoformat(),
        }
        try:
            if items.strip():
                parts = [p for p in items.replace(",", " ").split() if p]
                if len(parts) > MAX_FORM_ITEMS:
                    raise InputError.one("items", f"at most {MAX_FORM_ITEMS} answers")
                data["items"] = [whole_number("items", p) for p in parts]
            if total.strip():
                data["total"] = number("total", total)
            registry.record_questionnaire(actor, data)
        except InputError as err:
            with refusals():
                return _patient_page(actor, expected, patient_uid, problems_text(err), 422)
        except PermissionError as err:
            raise _RefusedError(403, str(err)) from None
        return RedirectResponse(f"/clinic/patients/{patient_uid}", status_code=303)

    @r.post("/patients/{patient_uid}/sessions")
    async def add_session(request: Request, patient_uid: str, session: tuple[Actor, str] = signed) -> Response:
        """The session sheet: the session and its readings at the label's times, saved together."""
        actor, expected = session
        form = await request.form(max_files=0, max_fields=60)
        check_csrf(expected, str(form.get("csrf", "")))
        try:
            data, readings = session_from_form({k: str(v) for k, v in form.items()}, patient_uid)
            with refusals():
                registry.record_session(actor, data, readings)
        except InputError as err:
            with refusals():
                return _patient_page(actor, expected, patient_uid, problems_text(err), 422)
        return RedirectResponse(f"/clinic/patients/{patient_uid}", status_code=303)

    @r.post("/patients/{patient_uid}/plan")
    def plan(
        patient_uid: str, session: tuple[Actor, str] = signed, csrf: Annotated[str, Form(max_length=100)] = ""
    ) -> Response:
        actor, expected = session
        check_csrf(expected, csrf)
        with refusals():
            save_plan(registry, actor, patient_uid)
        return RedirectResponse(f"/clinic/patients/{patient_uid}", status_code=303)

    @r.get("/sessions/{session_uid}/rems", response_class=HTMLResponse)
    def rems(session_uid: str, session: tuple[Actor, str] = signed) -> Response:
        from ketasim.registry import rems_form_html

        actor, _ = session
        with refusals():
            form: RemsForm = rems_form(registry, actor, session_uid)
        return HTMLResponse(rems_form_html(form), headers={"cache-control": "no-store"})

    return r


def _start(actor: Actor) -> str:
    """Where a signed-in person starts: the audit for an administrator, else the dashboard."""
    return "/clinic/audit" if actor.role == "admin" else "/clinic"


def install_errors(app: Any) -> None:
    """Signed-out visitors go to the sign-in page; refused requests get a page saying why."""
    from starlette.requests import Request as StarletteRequest

    async def refused(request: StarletteRequest, exc: Exception) -> Response:
        assert isinstance(exc, _RefusedError)
        if exc.status == 401:
            return RedirectResponse("/clinic/login", status_code=303)
        if exc.status == 303:
            return RedirectResponse(exc.message, status_code=303)
        return _page("clinic_refused.html.j2", exc.status, message=exc.message)

    app.add_exception_handler(_RefusedError, refused)
