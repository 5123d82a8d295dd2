"""The clinic's record: one object over one database, one verb per thing a clinic does.

Every method takes the signed-in :class:`~ketasim.registry.Actor`, checks the permission and
the record's site before it reads or writes (deny by default), runs in one transaction
(nothing half-saved) and appends an audit row.  A refused request is audited too, in its
own transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar, Unpack

from sqlalchemy import ColumnElement, Engine, func, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ketasim.errors import DoseError
from ketasim.pk import load_model
from ketasim.regimens import Dose
from ketasim.registry import _auth
from ketasim.registry._audit import audit
from ketasim.registry._auth import Actor, Permission, authorize
from ketasim.registry._db import RecordNotFoundError, RegistryError, connect, is_initialised, migrate, transaction
from ketasim.registry._inputs import EmergencyIn, PatientIn, QuestionnaireIn, SessionIn, VitalIn, parse
from ketasim.registry._models import (
    AuditEvent,
    DosingSessionRow,
    EmergencyAccess,
    PatientRow,
    PlanRow,
    QuestionnaireRow,
    User,
    VitalSignRow,
)
from ketasim.registry._second_factor import SecondFactorSetup
from ketasim.registry._views import (
    AuditRow,
    EmergencyGrant,
    PatientRecord,
    QuestionnaireRecord,
    SessionRecord,
    VitalRecord,
    patient_record,
    questionnaire_record,
    session_record,
    vital_record,
)

Row = TypeVar("Row", PatientRow, PlanRow, DosingSessionRow, VitalSignRow, QuestionnaireRow)
MAX_LIST = 1000


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def current(db: Session, model: type[Row], uid: str) -> Row | None:
    """The newest version of one record (None for an id that is not text: it names nothing,
    and PostgreSQL would refuse to compare it)."""
    if not isinstance(uid, str):
        return None
    return db.scalar(select(model).where(model.uid == uid).order_by(model.version.desc()).limit(1))


def current_all(db: Session, model: type[Row], *where: Any) -> list[Row]:
    """The newest version of every record matching ``where``."""
    newest = select(model.uid, func.max(model.version).label("v")).where(*where).group_by(model.uid).subquery()
    query = select(model).join(newest, (model.uid == newest.c.uid) & (model.version == newest.c.v))
    return list(db.scalars(query))


class Registry:
    """The clinic registry on one database (SQLite file or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str | None = None, *, create: bool = True) -> Registry:
        """Connect and bring the schema to the newest migration (``RegistryError`` naming
        ``db`` when the file is not a database or the server cannot be reached, and, with
        ``create=False``, when there is no registry there yet: nothing is created)."""
        engine = connect(url, create=create)
        try:
            if not create and not is_initialised(engine):
                raise RegistryError.one("db", "holds no ketasim registry yet: create it with `ketasim clinic init`")
            migrate(engine)
        except DBAPIError as err:  # the URL may hold a password: never echo it
            engine.dispose()
            kind = type(err.orig).__name__ if err.orig is not None else type(err).__name__
            raise RegistryError.one(
                "db", f"cannot be opened ({kind}): not a ketasim database, or its server cannot be reached"
            ) from None
        return cls(engine)

    # ---- units of work --------------------------------------------------------------------

    @contextmanager
    def _unit(self, actor: Actor | None, entity: str, uid: str | None = None) -> Iterator[Session]:
        """One transaction for an actor whose account is re-read first (a disabled account or a
        changed role takes effect at once); a refusal is audited in a transaction of its own."""
        try:
            with transaction(self.engine) as db:
                if actor is not None:
                    user = db.get(User, actor.id)
                    if user is None or not user.active or (user.role, user.site) != (actor.role, actor.site):
                        raise PermissionError("this account is not active or has changed: sign in again")
                yield db
        except PermissionError:
            with transaction(self.engine) as db:
                known = actor is not None and db.get(User, actor.id) is not None
                audit(
                    db, actor if known else None, "denied", entity, _id_form(uid), outcome="denied",
                    username=actor.username[:64] if actor else "-",
                )  # fmt: skip
            raise

    def _patient_for(self, db: Session, actor: Actor, patient_uid: str, permission: Permission) -> PatientRow:
        """The patient's current row, if the actor may ``permission`` it; another site's id is
        refused exactly as an unknown one (its existence is not revealed), and audited."""
        authorize(actor, permission)
        row = current(db, PatientRow, patient_uid)
        if row is not None and row.site != actor.site and permission in EMERGENCY_PERMISSIONS:
            grant = db.scalar(
                select(EmergencyAccess.uid).where(
                    EmergencyAccess.user_id == actor.id,
                    EmergencyAccess.patient_uid == patient_uid,
                    EmergencyAccess.until > datetime.now(UTC),
                )
            )
            if grant is not None:  # every use of a grant is audited under it
                audit(db, actor, "emergency", "patient", grant, patient_uid=patient_uid, outcome="emergency")
                return row
        if row is not None and row.site != actor.site:
            with transaction(self.engine) as other:
                audit(other, actor, "denied", "patient", patient_uid, patient_uid=patient_uid, outcome="denied")
            row = None
        elif row is None:
            self._audit_unknown(actor, "patient", patient_uid)
        if row is None:
            raise RecordNotFoundError.one("patient_uid", "is not a patient of this registry you may see")
        return row

    def break_glass(self, actor: Actor, patient_uid: str, reason: str) -> EmergencyGrant:
        """Emergency access (HIPAA §164.312(a)(2)(ii)): a prescriber or nurse reaches a patient of
        another site, to read and record care, for :data:`EMERGENCY_HOURS`, after stating why.
        The grant keeps the reason; the audit names the grant at its start and at every use, so
        both sites' administrators see it. Approving plans, discharge and export stay with the
        patient's own site."""
        request = parse(EmergencyIn, {"patient_uid": patient_uid, "reason": reason})
        with self._unit(actor, "emergency_access", patient_uid) as db:
            authorize(actor, "write_clinical")
            row = current(db, PatientRow, patient_uid)
            if row is None:
                self._audit_unknown(actor, "patient", patient_uid)
                raise RecordNotFoundError.one("patient_uid", "is not a patient of this registry")
            if row.site == actor.site:
                raise RegistryError.one("patient_uid", "is a patient of your own site: no emergency access is needed")
            t = datetime.now(UTC)
            grant = EmergencyAccess(
                uid=str(uuid.uuid4()),
                at=t,
                user_id=actor.id,
                patient_uid=patient_uid,
                reason=request.reason,
                until=t + timedelta(hours=EMERGENCY_HOURS),
            )
            db.add(grant)
            db.flush()
            audit(db, actor, "break_glass", "patient", grant.uid, patient_uid=patient_uid, outcome="emergency")
            return EmergencyGrant.model_validate(grant)

    def _audit_unknown(self, actor: Actor, entity: str, uid: str) -> None:
        """A look-up of an id that names no record (probing is seen in the audit); what was
        given is kept only when it has an id's form, as it may be anything typed."""
        with transaction(self.engine) as other:
            audit(other, actor, "read", entity, _id_form(uid), outcome="not_found")

    # ---- people -----------------------------------------------------------------------------

    def create_user(
        self, actor: Actor | None, username: str, full_name: str, role: str, password: str, site: str = "main"
    ) -> Actor:
        """A personal account (the first one of an empty registry: an admin, no actor)."""
        with self._unit(actor, "user") as db:
            return _auth.create_user(db, actor, username, full_name, role, site, password)

    def change_user(self, actor: Actor, username: str, **change: Unpack[_auth.AccountChange]) -> Actor:
        """Change an account of the administrator's site: ``role``, ``active`` (enabled or
        not), ``password`` (its open sessions end)."""
        with self._unit(actor, "user") as db:
            return _auth.change_user(db, actor, username, **change)

    def login(self, username: str, password: str, replacing: str = "", code: str = "") -> tuple[Actor, str, str]:
        """(actor, session token, CSRF token); refused the same way for a wrong name, password
        or second-factor ``code``, or a locked account (the failure is counted and audited
        first). An administrator without a second factor gets an ``enrol_only`` actor. The
        session whose token is ``replacing`` (the client's before this sign-in) ends with it."""
        checked_at = _auth.now()
        with transaction(self.engine) as db:
            actor = _auth.authenticate(db, username, password, code)
            if actor is not None:
                token, csrf = _auth.start_session(db, actor, checked_at)
                _auth.end_session(db, replacing)
        if actor is None:
            raise PermissionError(_auth.LOGIN_REFUSED)
        return actor, token, csrf

    def begin_second_factor(self, token: str) -> SecondFactorSetup:
        """The key (and its ``otpauth://`` URI) for the authenticator app of the person signed
        in with session ``token``: the same one until this session confirms it with
        :meth:`confirm_second_factor`; another session gets its own."""
        with transaction(self.engine) as db:
            return _auth.begin_second_factor(db, token)

    def confirm_second_factor(self, token: str, code: str) -> tuple[Actor, str, str]:
        """Set up the factor session ``token`` began, with a ``code`` the new device shows.
        Every session of the account ends; the new one returned, (actor, session token, CSRF
        token), may do what the role allows."""
        with transaction(self.engine) as db:
            actor = _auth.confirm_second_factor(db, token, code)
            new_token, csrf = _auth.start_session(db, actor, _auth.now())
        return actor, new_token, csrf

    def resume(self, token: str) -> tuple[Actor, str] | None:
        """The live session's (actor, CSRF token), or None."""
        with transaction(self.engine) as db:
            return _auth.resume_session(db, token)

    def logout(self, token: str) -> None:
        """End the server-side session."""
        with transaction(self.engine) as db:
            _auth.end_session(db, token)

    def has_accounts(self) -> bool:
        """Whether any account exists (the first one is created without an actor)."""
        with transaction(self.engine) as db:
            return db.scalar(select(User.id).limit(1)) is not None

    def actor(self, username: str) -> Actor:
        """The account of a user name, for local command-line use on the clinic's own machine
        (the CLI authenticates with a password first)."""
        with transaction(self.engine) as db:
            user = db.scalar(select(User).where(User.username == username, User.active.is_(True)))
            if user is None:
                raise PermissionError(_auth.LOGIN_REFUSED)
            return Actor(user.id, user.username, user.role, user.site)

    # ---- patients -----------------------------------------------------------------------------

    def add_patient(self, actor: Actor, data: PatientIn | dict[str, Any]) -> PatientRecord:
        """Register a patient (MRN unique within the site)."""
        p = data if isinstance(data, PatientIn) else parse(PatientIn, data)
        with self._unit(actor, "patient") as db:
            authorize(actor, "write_clinical")
            taken = current_all(db, PatientRow, PatientRow.mrn == p.mrn, PatientRow.site == actor.site)
            if taken:
                raise RegistryError.one("mrn", "is already registered at this site")
            row = self._patient_row(actor, p, str(uuid.uuid4()), 1, None)
            db.add(row)
            db.flush()
            audit(db, actor, "create", "patient", row.uid, patient_uid=row.uid)
            return patient_record(row)

    def correct_patient(
        self, actor: Actor, patient_uid: str, data: PatientIn | dict[str, Any], reason: str
    ) -> PatientRecord:
        """A new version of the patient's record (the old one is kept)."""
        p = data if isinstance(data, PatientIn) else parse(PatientIn, data)
        _check_reason(reason)
        with self._unit(actor, "patient", patient_uid) as db:
            old = self._patient_for(db, actor, patient_uid, "write_clinical")
            row = self._patient_row(actor, p, old.uid, old.version + 1, reason)
            db.add(row)
            db.flush()
            audit(db, actor, "correct", "patient", row.uid, patient_uid=row.uid)
            return patient_record(row)

    @staticmethod
    def _patient_row(actor: Actor, p: PatientIn, uid: str, version: int, reason: str | None) -> PatientRow:
        return PatientRow(
            uid=uid,
            version=version,
            recorded_at=datetime.now(UTC),
            recorded_by=actor.id,
            reason=reason,
            site=actor.site,
            mrn=p.mrn,
            given_name=p.given_name,
            family_name=p.family_name,
            birth_date=p.birth_date,
            sex=p.sex,
            consent_off_label=p.consent_off_label,
            clinical=p.clinical.model_dump(mode="json", exclude_none=True),
        )

    def patient(self, actor: Actor, patient_uid: str) -> PatientRecord:
        """The current record (the read is audited)."""
        with self._unit(actor, "patient", patient_uid) as db:
            row = self._patient_for(db, actor, patient_uid, "read_clinical")
            audit(db, actor, "read", "patient", row.uid, patient_uid=row.uid)
            return patient_record(row)

    def patient_versions(self, actor: Actor, patient_uid: str) -> list[PatientRecord]:
        """Every version of the record, oldest first."""
        with self._unit(actor, "patient", patient_uid) as db:
            self._patient_for(db, actor, patient_uid, "read_clinical")
            rows = db.scalars(select(PatientRow).where(PatientRow.uid == patient_uid).order_by(PatientRow.version))
            audit(db, actor, "read_versions", "patient", patient_uid, patient_uid=patient_uid)
            return [patient_record(r) for r in rows]

    def patients(self, actor: Actor) -> list[PatientRecord]:
        """Current records of the actor's site (at most 1,000)."""
        with self._unit(actor, "patient") as db:
            authorize(actor, "read_clinical")
            rows = current_all(db, PatientRow, PatientRow.site == actor.site)[:MAX_LIST]
            audit(db, actor, "list", "patient", None)
            return [patient_record(r) for r in sorted(rows, key=lambda r: (r.family_name, r.given_name))]

    # ---- sessions, vitals, questionnaires --------------------------------------------------------

    def record_session(
        self,
        actor: Actor,
        data: SessionIn | dict[str, Any],
        readings: Sequence[VitalIn | dict[str, Any]] = (),
    ) -> SessionRecord:
        """A treatment session (dose within the route's clinical bounds for this patient), with
        its readings if given: all in one transaction."""
        s = data if isinstance(data, SessionIn) else parse(SessionIn, data)
        parsed = _readings(readings, allow_empty=True)
        with self._unit(actor, "session") as db:
            return self._insert_session(db, actor, s, parsed)

    def _insert_session(self, db: Session, actor: Actor, s: SessionIn, readings: list[VitalIn]) -> SessionRecord:
        """Write one session and its readings in the caller's transaction (checked, audited)."""
        patient = self._patient_for(db, actor, s.patient_uid, "write_clinical")
        _not_before_birth("started_at", s.started_at, patient.birth_date)
        _check_dose(s, float(patient.clinical["weight_kg"]))
        row = _session_row(actor, None, s, _details(s), None)
        db.add(row)
        db.flush()
        audit(db, actor, "create", "session", row.uid, patient_uid=s.patient_uid)
        if readings:
            db.add_all(_vital_rows(actor, row.uid, _utc(row.started_at), readings))
            audit(db, actor, "create", "vitals", row.uid, patient_uid=s.patient_uid)
        return session_record(row)

    def _session_for(self, db: Session, actor: Actor, session_uid: str, permission: Permission) -> DosingSessionRow:
        authorize(actor, permission)
        row = current(db, DosingSessionRow, session_uid)
        if row is None:
            self._audit_unknown(actor, "session", session_uid)
            raise RecordNotFoundError.one("session_uid", "is not a session of this registry you may see")
        self._patient_for(db, actor, row.patient_uid, permission)
        return row

    def correct_session(self, actor: Actor, session_uid: str, changes: dict[str, Any], reason: str) -> SessionRecord:
        """A new version of a session with some fields changed (the old one is kept)."""
        _check_reason(reason)
        with self._unit(actor, "session", session_uid) as db:
            old = self._session_for(db, actor, session_uid, "write_clinical")
            merged = {
                **session_record(old).model_dump(mode="json", exclude={"uid", "version", "discharged_by"}),
                **changes,
            }
            merged = {k: v for k, v in merged.items() if v is not None}
            s = parse(SessionIn, merged)
            if s.patient_uid != old.patient_uid:
                raise RegistryError.one("patient_uid", "a session cannot move to another patient")
            patient = self._patient_for(db, actor, s.patient_uid, "write_clinical")
            _not_before_birth("started_at", s.started_at, patient.birth_date)
            _check_dose(s, float(patient.clinical["weight_kg"]))
            details = _details(s)
            if "discharged_by" in old.details:
                details["discharged_by"] = old.details["discharged_by"]
            row = _session_row(actor, old, s, details, reason)
            db.add(row)
            db.flush()
            audit(db, actor, "correct", "session", row.uid, patient_uid=row.patient_uid)
            return session_record(row)

    def discharge(self, actor: Actor, session_uid: str, ready_for_discharge_min: float) -> SessionRecord:
        """Record who discharged the patient and when they were ready (a new version)."""
        with self._unit(actor, "session", session_uid) as db:
            old = self._session_for(db, actor, session_uid, "discharge")
            if not (isinstance(ready_for_discharge_min, int | float) and not isinstance(ready_for_discharge_min, bool)):
                raise RegistryError.one("ready_for_discharge_min", "a number of minutes is expected")
            if not 0 <= float(ready_for_discharge_min) <= 24 * 60:
                raise RegistryError.one("ready_for_discharge_min", f"{ready_for_discharge_min} is outside 0–1440")
            details = {
                **old.details,
                "ready_for_discharge_min": float(ready_for_discharge_min),
                "discharged_by": actor.id,
            }
            row = _session_row(actor, old, old, details, "discharge")
            db.add(row)
            db.flush()
            audit(db, actor, "discharge", "session", row.uid, patient_uid=row.patient_uid)
            return session_record(row)

    def sessions(self, actor: Actor, patient_uid: str) -> list[SessionRecord]:
        """A patient's sessions (current versions), oldest first."""
        with self._unit(actor, "session") as db:
            self._patient_for(db, actor, patient_uid, "read_clinical")
            rows = current_all(db, DosingSessionRow, DosingSessionRow.patient_uid == patient_uid)
            audit(db, actor, "list", "session", None, patient_uid=patient_uid)
            return [session_record(r) for r in sorted(rows, key=lambda r: _utc(r.started_at))]

    def session(self, actor: Actor, session_uid: str) -> SessionRecord:
        """One session (current version)."""
        with self._unit(actor, "session", session_uid) as db:
            row = self._session_for(db, actor, session_uid, "read_clinical")
            audit(db, actor, "read", "session", row.uid, patient_uid=row.patient_uid)
            return session_record(row)

    def add_vitals(
        self, actor: Actor, session_uid: str, readings: Sequence[VitalIn | dict[str, Any]]
    ) -> list[VitalRecord]:
        """Readings during a session (each from 2 h before to 24 h after its start)."""
        parsed = _readings(readings, allow_empty=False)
        with self._unit(actor, "vitals", session_uid) as db:
            session = self._session_for(db, actor, session_uid, "write_clinical")
            rows = _vital_rows(actor, session_uid, _utc(session.started_at), parsed)
            db.add_all(rows)
            db.flush()
            audit(db, actor, "create", "vitals", session_uid, patient_uid=session.patient_uid)
            return [vital_record(r) for r in rows]

    def vitals(self, actor: Actor, session_uid: str) -> list[VitalRecord]:
        """A session's readings in time order."""
        with self._unit(actor, "vitals", session_uid) as db:
            session = self._session_for(db, actor, session_uid, "read_clinical")
            rows = current_all(db, VitalSignRow, VitalSignRow.session_uid == session_uid)
            audit(db, actor, "read", "vitals", session_uid, patient_uid=session.patient_uid)
            return [vital_record(r) for r in sorted(rows, key=lambda r: _utc(r.taken_at))]

    def record_questionnaire(self, actor: Actor, data: QuestionnaireIn | dict[str, Any]) -> QuestionnaireRecord:
        """A questionnaire or rating (items checked, total computed or checked)."""
        q = data if isinstance(data, QuestionnaireIn) else parse(QuestionnaireIn, data)
        with self._unit(actor, "questionnaire") as db:
            return self._insert_questionnaire(db, actor, q)

    def _insert_questionnaire(self, db: Session, actor: Actor, q: QuestionnaireIn) -> QuestionnaireRecord:
        """Write one questionnaire in the caller's transaction (checked, audited)."""
        patient = self._patient_for(db, actor, q.patient_uid, "write_clinical")
        _not_before_birth("taken_at", q.taken_at, patient.birth_date)
        row = QuestionnaireRow(
            uid=str(uuid.uuid4()),
            version=1,
            recorded_at=datetime.now(UTC),
            recorded_by=actor.id,
            reason=None,
            patient_uid=q.patient_uid,
            instrument=q.instrument,
            taken_at=q.taken_at,
            items=list(q.items) if q.items is not None else None,
            total=q.computed_total(),
        )
        db.add(row)
        db.flush()
        audit(db, actor, "create", "questionnaire", row.uid, patient_uid=q.patient_uid)
        return questionnaire_record(row)

    def questionnaires(self, actor: Actor, patient_uid: str) -> list[QuestionnaireRecord]:
        """A patient's questionnaires in time order."""
        with self._unit(actor, "questionnaire") as db:
            self._patient_for(db, actor, patient_uid, "read_clinical")
            rows = current_all(db, QuestionnaireRow, QuestionnaireRow.patient_uid == patient_uid)
            audit(db, actor, "list", "questionnaire", None, patient_uid=patient_uid)
            return [questionnaire_record(r) for r in sorted(rows, key=lambda r: _utc(r.taken_at))]

    # ---- audit ----------------------------------------------------------------------------------

    def audit_log(self, actor: Actor, patient_uid: str | None = None, limit: int = 500) -> list[AuditRow]:
        """The newest audit rows of the administrator's site (optionally of one patient);
        reading it is audited too."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise RegistryError.one("limit", f"{limit!r} is not allowed: 1–10000")
        with self._unit(actor, "audit") as db:
            authorize(actor, "read_audit")
            query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit).where(_of_site(actor.site))
            if patient_uid is not None:
                query = query.where(AuditEvent.patient_uid == patient_uid)
            rows = [AuditRow.model_validate(r, from_attributes=True) for r in db.scalars(query)]
            audit(db, actor, "read", "audit", None, patient_uid=patient_uid)
            return rows


EMERGENCY_HOURS = 4.0
"""How long a break-glass grant lasts (**assumed**: about one emergency encounter; HIPAA
names the procedure, not its length)."""
EMERGENCY_PERMISSIONS: frozenset[str] = frozenset({"read_clinical", "write_clinical"})
"""What a grant opens beyond the site: reading the record and recording care."""
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _id_form(uid: object) -> str | None:
    """An id as the audit keeps it: only when it has an id's form (what a person typed may be
    a name or anything else)."""
    return uid if isinstance(uid, str) and _UUID.fullmatch(uid) else None


def _of_site(site: str) -> ColumnElement[bool]:
    """Audit rows an administrator of ``site`` reads: those of its accounts, of its patients,
    and sign-ins under no known account (registry-wide, and holding no name)."""
    return or_(
        AuditEvent.user_id.in_(select(User.id).where(User.site == site)),
        AuditEvent.patient_uid.in_(select(PatientRow.uid).where(PatientRow.site == site)),
        AuditEvent.user_id.is_(None) & AuditEvent.patient_uid.is_(None),
    )


SESSION_CORE = ("patient_uid", "started_at", "drug", "route", "dose_mg")
"""Session fields kept as columns; the others are the row's JSON details."""


def _session_row(
    actor: Actor, old: DosingSessionRow | None, core: Any, details: dict[str, Any], reason: str | None
) -> DosingSessionRow:
    """A new session row from ``core`` (a SessionIn or a row): version 1, or the next of ``old``."""
    return DosingSessionRow(
        uid=old.uid if old else str(uuid.uuid4()),
        version=old.version + 1 if old else 1,
        recorded_at=datetime.now(UTC),
        recorded_by=actor.id,
        reason=reason,
        details=details,
        **{f: getattr(core, f) for f in SESSION_CORE},
    )


def _details(s: SessionIn) -> dict[str, Any]:
    """The session fields kept as JSON details."""
    details: dict[str, Any] = s.model_dump(mode="json", exclude=set(SESSION_CORE), exclude_none=True)
    return details


def _readings(readings: Sequence[VitalIn | dict[str, Any]], allow_empty: bool) -> list[VitalIn]:
    """Validated readings (at most 200 per request)."""
    if not isinstance(readings, Sequence) or isinstance(readings, str | bytes) or not (readings or allow_empty):
        raise RegistryError.one("readings", "a non-empty list of readings is expected")
    if len(readings) > 200:
        raise RegistryError.one("readings", f"{len(readings)} readings; at most 200 per request")
    return [r if isinstance(r, VitalIn) else parse(VitalIn, r, f"readings[{i}]") for i, r in enumerate(readings)]


def _vital_rows(actor: Actor, session_uid: str, start: datetime, readings: list[VitalIn]) -> list[VitalSignRow]:
    """Rows for readings of a session that started at ``start``; a reading outside 2 h before
    to 24 h after the start is refused (the whole request)."""
    rows = []
    for i, r in enumerate(readings):
        if not start - timedelta(hours=2) <= r.taken_at <= start + timedelta(hours=24):
            raise RegistryError.one(
                f"readings[{i}].taken_at", "must be within 2 h before to 24 h after the session start"
            )
        rows.append(
            VitalSignRow(
                uid=str(uuid.uuid4()),
                version=1,
                recorded_at=datetime.now(UTC),
                recorded_by=actor.id,
                reason=None,
                session_uid=session_uid,
                **r.model_dump(),
            )
        )
    return rows


def _check_reason(reason: str) -> None:
    if not isinstance(reason, str) or not 3 <= len(reason.strip()) <= 500:
        raise RegistryError.one("reason", "a correction needs its reason (3–500 characters)")


def _not_before_birth(field: str, when: datetime, birth: date) -> None:
    if when.date() < birth:
        raise RegistryError.one(field, f"{when.date()} is before the patient's date of birth")


def _check_dose(s: SessionIn, weight_kg: float) -> None:
    """Refuse a dose outside the route's clinical bounds (the PK model's, with their sources)."""
    model = load_model(s.drug)
    if s.route not in model.routes:
        raise RegistryError.one("route", f"{s.drug} is given by: {', '.join(model.routes)}")
    if s.route == "iv":
        dose = Dose(amount_mg=s.dose_mg, duration_h=(s.infusion_end_min or 40.0) / 60.0)
    else:
        dose = Dose(amount_mg=s.dose_mg, route=s.route)
    try:
        model.check_dose(dose, weight_kg)
    except DoseError as err:
        raise RegistryError([("dose_mg", message) for _, message in err.problems]) from None


def today_utc() -> date:
    """Today's date in UTC."""
    return datetime.now(UTC).date()
