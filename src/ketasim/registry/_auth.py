"""People and permissions: personal accounts with argon2 password hashes, server-side
sessions with an idle timeout, a lock after repeated failed logins, and one authorisation
check (deny by default) that every registry function calls before it reads or writes.

HIPAA §164.312(a)(2)(i) unique users, (a)(2)(iii) automatic logoff, (d) authentication;
OWASP ASVS 4.0 level 1: 2.1.1 (passwords of at least 12 characters), 2.2.1 (throttled
logins), 2.4.1 (argon2), 4.3.1 (administrators sign in with a second factor:
:mod:`ketasim.registry._second_factor`), 3.3.1–3.3.2 (logout and idle timeout end the server-side
session), 4.1.1–4.1.5 and 4.2.1 (server-side, deny-by-default, per-record checks).
"""

from __future__ import annotations

import hashlib
import secrets
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, TypedDict, Unpack, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from ketasim.registry import _second_factor
from ketasim.registry._audit import audit
from ketasim.registry._db import RegistryError
from ketasim.registry._models import LoginSession, User

Role = Literal["admin", "prescriber", "nurse", "viewer"]
ROLES: tuple[str, ...] = get_args(Role)
Permission = Literal[
    "read_clinical", "write_clinical", "approve_plan", "discharge", "export", "manage_users", "read_audit"
]
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"manage_users", "read_audit"}),
    "prescriber": frozenset({"read_clinical", "write_clinical", "approve_plan", "discharge", "export"}),
    "nurse": frozenset({"read_clinical", "write_clinical"}),
    "viewer": frozenset({"read_clinical"}),
}
"""What each role may do (issue 13): admins manage accounts and read the audit but see no
clinical record (least privilege); prescribers approve plans, discharge and export; nurses
record sessions, vitals and questionnaires; viewers only read. Anything not listed is refused."""

MIN_PASSWORD = 12
MAX_PASSWORD = 128
MAX_USERNAME = 64
MIN_PASSWORD_SCORE = 3
"""zxcvbn's strength score a password needs (0–4; 3: "safely unguessable", Wheeler 2016)."""
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
IDLE_TIMEOUT = timedelta(minutes=15)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("timing-equaliser-not-a-password")


def now() -> datetime:
    """The current time (UTC, timezone-aware)."""
    return datetime.now(UTC)


def _aware(t: datetime) -> datetime:
    """SQLite returns naive datetimes: they are stored in UTC."""
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Actor:
    """The signed-in person a request acts for. ``enrol_only``: an administrator signed in
    with a password alone, who may only set up their second factor."""

    id: int
    username: str
    role: str
    site: str
    enrol_only: bool = False


def _actor(user: User) -> Actor:
    return Actor(user.id, user.username, user.role, user.site, _second_factor.needs_enrolment(user))


def check_password_policy(password: str, *about: str) -> None:
    """ASVS 2.1.1/2.1.2: 12 to 128 characters, not one character repeated; ASVS 2.1.7: not a
    common or breached password nor one easily guessed from ``about`` (the user name, the
    full name): zxcvbn's estimate, from its lists of passwords leaked in breaches, keyboard
    patterns and words, must be at least 3 of 4 ("safely unguessable")."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise RegistryError.one("password", f"must have {MIN_PASSWORD}–{MAX_PASSWORD} characters")
    if len(set(password)) < 4:
        raise RegistryError.one("password", "must not be one or a few characters repeated")
    estimate = zxcvbn(password, user_inputs=[a for a in about if a])
    if estimate["score"] < MIN_PASSWORD_SCORE:
        why = estimate["feedback"]["warning"] or "it is easy to guess"
        raise RegistryError.one("password", f"is too easy to guess ({why.rstrip('.')}): use a few uncommon words")


ENROL_FIRST = "an administrator sets up a second factor (an authenticator app) before anything else"


def authorize(actor: Actor, permission: Permission, site: str | None = None) -> None:
    """Refuse unless the actor's role grants ``permission`` and, for a record, the record is
    of the actor's site (no access to another clinic's patients by guessing an id). An
    administrator without a second factor is refused everything until they set one up."""
    if actor.enrol_only:
        raise PermissionError(ENROL_FIRST)
    if permission not in PERMISSIONS.get(actor.role, frozenset()):
        raise PermissionError(f"role {actor.role!r} may not {permission.replace('_', ' ')}")
    if site is not None and site != actor.site:
        raise PermissionError("this record belongs to another site")


def create_user(
    db: Session, actor: Actor | None, username: str, full_name: str, role: str, site: str, password: str
) -> Actor:
    """A new personal account. ``actor`` None only for the first account of an empty registry
    (which must be an administrator). An administrator manages their own site's accounts; a
    site that has none yet may be opened by any administrator (it holds no records)."""
    if actor is None:
        if db.scalar(select(User.id).limit(1)) is not None:
            raise PermissionError("the registry has accounts: an administrator creates new ones")
        if role != "admin":
            raise RegistryError.one("role", "the first account must be an admin")
    else:
        authorize(actor, "manage_users")
        if site != actor.site and db.scalar(select(User.id).where(User.site == site).limit(1)) is not None:
            raise PermissionError("an administrator manages the accounts of their own site")
    if role not in ROLES:
        raise RegistryError.one("role", f"{role!r} is not a role; allowed: {', '.join(ROLES)}")
    plain = username.replace(".", "").replace("-", "").replace("_", "")
    if not (1 <= len(username) <= MAX_USERNAME and plain.isalnum()):
        raise RegistryError.one("username", "1–64 letters, digits, '.', '-' or '_'")
    if not 1 <= len(full_name.strip()) <= 200:
        raise RegistryError.one("full_name", "1–200 characters")
    if not 1 <= len(site) <= 64:
        raise RegistryError.one("site", "1–64 characters")
    check_password_policy(password, username, full_name)
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise RegistryError.one("username", f"{username!r} is taken")
    user = User(
        username=username,
        full_name=full_name.strip(),
        role=role,
        site=site,
        password_hash=_HASHER.hash(password),
        active=True,
        failed_logins=0,
        created_at=now(),
    )
    db.add(user)
    db.flush()
    audit(db, actor or Actor(user.id, username, role, site), "create", "user", str(user.id))
    return Actor(user.id, user.username, user.role, user.site)


CODE_MAX = 12
"""The longest code field taken (6 digits, with spaces a person may type)."""
LOGIN_REFUSED = "unknown user name, wrong password or code, or the account is locked"


def authenticate(db: Session, username: str, password: str, code: str = "") -> Actor | None:
    """The account for these credentials, or None (the caller commits the failure count and
    its audit row, then refuses with :data:`LOGIN_REFUSED` whether the name, the password or
    the second factor's code was wrong; an account locks for 15 min after 5 failures). An
    account with a second factor needs its current ``code``, once; an administrator without
    one is signed in to set one up only (``Actor.enrol_only``)."""
    # what no account can have is refused as an unknown name, before any query or hash: text
    # of the allowed lengths, no NUL (PostgreSQL refuses it in a query)
    limits = ((username, MAX_USERNAME), (password, MAX_PASSWORD), (code, CODE_MAX))
    well_formed = all(isinstance(v, str) and len(v) <= n for v, n in limits) and "\x00" not in username
    if not well_formed:
        username, password = "", ""
    user = db.scalar(select(User).where(User.username == username)) if well_formed else None
    t = now()
    if user is None or not user.active or (user.locked_until is not None and _aware(user.locked_until) > t):
        with suppress(VerificationError):  # spend the same time as a real check
            _HASHER.verify(_DUMMY_HASH, password)
        if user is None:  # what was typed is not kept: it may be a password or a patient's name
            audit(db, None, "login", "user", None, outcome="refused")
        else:
            outcome = "refused" if not user.active else "locked"
            audit(db, None, "login", "user", str(user.id), outcome=outcome, username=user.username)
        return None
    try:
        _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        _failed(db, user, t)
        return None
    if user.totp_secret is not None:
        step = _second_factor.accepted_step(user.totp_secret, code, None, t)
        if step is None:
            _failed(db, user, t)
            return None
        if not _second_factor.claim_step(db, user.id, step):  # a code used already: refused, not counted
            audit(db, None, "login", "user", str(user.id), outcome="code_reused", username=user.username)
            return None
    user.failed_logins = 0
    user.locked_until = None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    actor = _actor(user)
    audit(db, actor, "login", "user", str(user.id), outcome="enrol_only" if actor.enrol_only else "ok")
    return actor


def _failed(db: Session, user: User, t: datetime) -> None:
    """Count a failed sign-in (one UPDATE, so that concurrent failures all count) and lock the
    account at :data:`MAX_FAILED_LOGINS`."""
    failures = db.scalar(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
        .execution_options(synchronize_session=False)
    )
    if failures is not None and failures >= MAX_FAILED_LOGINS:
        db.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=0, locked_until=t + timedelta(minutes=LOCK_MINUTES))
            .execution_options(synchronize_session=False)
        )
    audit(db, None, "login", "user", str(user.id), outcome="refused", username=user.username)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db: Session, actor: Actor, checked_at: datetime) -> tuple[str, str]:
    """(session token for the cookie, CSRF token for forms); only the token's hash is kept.
    ``checked_at``: when the credentials were read, before they were checked: a change of
    the account committed meanwhile (``User.sessions_from``) voids the session."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    db.add(
        LoginSession(
            token_sha256=_digest(token), user_id=actor.id, csrf_token=csrf, created_at=checked_at, last_seen_at=now()
        )
    )
    return token, csrf


def _end(row: LoginSession, t: datetime) -> None:
    """End a session (and forget a key it was setting up)."""
    row.ended_at, row.totp_pending = t, None


def _session_row(db: Session, token: str) -> LoginSession | None:
    """The session row of a token (None for anything that is not one)."""
    return db.get(LoginSession, _digest(token)) if isinstance(token, str) and token else None


def _live(db: Session, token: str) -> tuple[LoginSession, User] | None:
    """The live session of ``token`` and its account, its idle clock refreshed; None when
    unknown, ended, idle for 15 min or older than 12 h, or of a disabled account (and then it
    is ended)."""
    row = _session_row(db, token)
    if row is None or row.ended_at is not None:
        return None
    t = now()
    if t - _aware(row.last_seen_at) > IDLE_TIMEOUT or t - _aware(row.created_at) > ABSOLUTE_TIMEOUT:
        _end(row, t)
        return None
    user = db.get(User, row.user_id)
    void = user is not None and user.sessions_from is not None and _aware(row.created_at) < _aware(user.sessions_from)
    if user is None or not user.active or void:
        _end(row, t)
        return None
    row.last_seen_at = t
    return row, user


def resume_session(db: Session, token: str) -> tuple[Actor, str] | None:
    """(actor, CSRF token) of a live session (:func:`_live`), or None."""
    live = _live(db, token)
    return None if live is None else (_actor(live[1]), live[0].csrf_token)


def _end_sessions(db: Session, user: User, t: datetime) -> None:
    """End every session of an account, and void any whose sign-in is still under way."""
    user.sessions_from = t
    for row in db.scalars(select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))):
        _end(row, t)


def _setting_up(db: Session, token: str) -> tuple[LoginSession, User]:
    """The live session setting up a second factor, and its account (which has none yet),
    locked first: set-ups of one account run one after the other, and always lock the account
    before a session (no deadlock between two)."""
    row = _session_row(db, token)
    if row is not None:
        db.get(User, row.user_id, with_for_update=True)
    live = _live(db, token)
    if live is None:
        raise PermissionError("sign in first")
    if live[1].totp_secret is not None:
        raise RegistryError.one(
            "second_factor", "is already set up for this account; after a lost device an administrator resets it"
        )
    return live


def begin_second_factor(db: Session, token: str) -> _second_factor.SecondFactorSetup:
    """The key for the session's new authenticator: the one this session is already setting
    up if the person reloads (they may have scanned it), else a new one. Another session of
    the same account gets a key of its own."""
    row, user = _setting_up(db, token)
    if row.totp_pending is None:
        row.totp_pending = _second_factor.new_secret()
        audit(db, _actor(user), "second_factor", "user", str(user.id), outcome="started")
    return _second_factor.setup_for(user, row.totp_pending)


def confirm_second_factor(db: Session, token: str, code: str) -> Actor:
    """Set up the factor the session began once the person types a code their new device
    shows. Every session of the account ends (one opened with the password alone must not
    become complete, ASVS 3.2.1): the caller starts a new one for the returned actor."""
    if not isinstance(code, str):
        raise RegistryError.one("code", "must be text: the 6 digits the authenticator shows")
    row, user = _setting_up(db, token)
    if row.totp_pending is None:
        raise RegistryError.one("second_factor", "no set-up is under way in this session: start one first")
    step = _second_factor.accepted_step(row.totp_pending, code, None, now())
    if step is None:
        raise RegistryError.one(
            "code", "is not the code the authenticator shows now: 6 digits; check that the phone's clock is right"
        )
    t = now()
    claimed = db.execute(  # another session of the account may have set one up meanwhile
        update(User)
        .where(User.id == user.id, User.totp_secret.is_(None))
        .values(totp_secret=row.totp_pending, totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise RegistryError.one("second_factor", "was set up meanwhile by another session of this account")
    db.refresh(user)
    _end_sessions(db, user, t)
    actor = _actor(user)
    audit(db, actor, "second_factor", "user", str(user.id))
    return actor


def end_session(db: Session, token: str) -> None:
    """Log out: the server-side session ends (the cookie alone is worth nothing after)."""
    row = db.get(LoginSession, _digest(token))
    if row is not None and row.ended_at is None:
        _end(row, now())
        user = db.get(User, row.user_id)
        if user is not None:
            audit(db, _actor(user), "logout", "user", str(user.id))


class AccountChange(TypedDict, total=False):
    """What an administrator may change in an account (each optional)."""

    role: str
    active: bool
    password: str
    reset_second_factor: bool


def change_user(db: Session, actor: Actor, username: str, **change: Unpack[AccountChange]) -> Actor:
    """An administrator changes an account of their own site: its role, whether it may sign in
    (a departing or compromised account is disabled, never deleted: the audit names it), its
    password (a reset also lifts a lock), or its second factor (reset after a lost device: a
    new one is set up at the next sign-in). Every change ends the account's open sessions;
    an administrator cannot disable or demote their own account (the site keeps one)."""
    role, active, password = change.get("role"), change.get("active"), change.get("password")
    reset = change.get("reset_second_factor")
    authorize(actor, "manage_users")
    kinds = (
        ("role", role, str),
        ("active", active, bool),
        ("password", password, str),
        ("reset_second_factor", reset, bool),
    )
    for field, value, kind in kinds:
        if value is not None and not isinstance(value, kind):
            raise RegistryError.one(field, f"must be {'true or false' if kind is bool else 'text'}")
    user = db.scalar(select(User).where(User.username == username))
    if user is None or user.site != actor.site:
        raise RegistryError.one("username", f"{username!r} is not an account of site {actor.site!r}")
    if role is None and active is None and password is None and not reset:
        raise RegistryError.one(
            "change", "nothing to change: give a role, enable or disable, a new password or a second-factor reset"
        )
    if role is not None and role not in ROLES:
        raise RegistryError.one("role", f"{role!r} is not a role; allowed: {', '.join(ROLES)}")
    if user.id == actor.id and (active is False or (role is not None and role != "admin")):
        raise RegistryError.one("username", "an administrator cannot disable or demote their own account")
    if password is not None:
        check_password_policy(password, user.username, user.full_name)
        user.password_hash = _HASHER.hash(password)
        user.failed_logins = 0
        user.locked_until = None
    if role is not None:
        user.role = role
    if active is not None:
        user.active = active
    if reset:  # a lost device: a new factor is set up at the next sign-in
        user.totp_secret = user.totp_last_step = None
    _end_sessions(db, user, now())
    audit(db, actor, "change", "user", str(user.id))
    return _actor(user)
