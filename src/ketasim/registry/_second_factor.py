"""A second factor at sign-in: time-based one-time codes (TOTP, RFC 6238: six digits, a new
one every 30 s, from an authenticator app on the person's phone), with pyotp.

OWASP ASVS 4.0 level 1, 4.3.1 (administrative interfaces use multi-factor authentication):
an administrator signs in with a password **and** a code. One who has not set up a factor
yet is signed in for that alone (:attr:`Actor.enrol_only <ketasim.registry.Actor>`): every
other request is refused until a code from the new device is confirmed. Any other account
may set one up too, and then needs it at every sign-in. A code is accepted once
(ASVS 2.8.4): the step it was used in is kept, and an older or equal step is refused.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import TYPE_CHECKING

import pyotp
from pydantic import BaseModel
from sqlalchemy.orm import Session

from ketasim.registry._audit import audit
from ketasim.registry._db import RegistryError
from ketasim.registry._models import User

if TYPE_CHECKING:
    from ketasim.registry._auth import Actor

REQUIRED_FOR = frozenset({"admin"})
"""The roles that must sign in with a second factor (ASVS 4.3.1: administrative interfaces)."""
ISSUER = "ketasim"
STEPS_EITHER_SIDE = 1
"""Codes of the previous and next 30-s step are accepted too, for a phone clock up to ~30 s
off (RFC 6238 §5.2 recommends at most one step of transmission delay)."""
CODE_DIGITS = 6


class SecondFactorSetup(BaseModel):
    """What the person types or scans into an authenticator app: the secret (base32, 160
    bits, RFC 4226 §4) and the ``otpauth://`` URI its QR code carries."""

    secret: str
    uri: str


def needs_enrolment(user: User) -> bool:
    """Whether the account must set up a second factor before it may do anything else."""
    return user.role in REQUIRED_FOR and user.totp_secret is None


def accepted_step(secret: str, code: str, after_step: int | None, t: datetime) -> int | None:
    """The 30-s step whose code ``code`` is, if it is within :data:`STEPS_EITHER_SIDE` of
    ``t`` and later than ``after_step`` (a code is used once); else None."""
    code = code.replace(" ", "") if isinstance(code, str) else ""
    if len(code) != CODE_DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=CODE_DIGITS)
    now_step = totp.timecode(t)
    for step in range(max(0, now_step - STEPS_EITHER_SIDE), now_step + STEPS_EITHER_SIDE + 1):
        if (after_step is None or step > after_step) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _setup(user: User, secret: str) -> SecondFactorSetup:
    uri = pyotp.TOTP(secret, digits=CODE_DIGITS).provisioning_uri(
        name=f"{user.username}@{user.site}", issuer_name=ISSUER
    )
    return SecondFactorSetup(secret=secret, uri=uri)


def _account(db: Session, actor: Actor) -> User:
    user = db.get(User, actor.id)
    if user is None:
        raise PermissionError("this account is not active or has changed: sign in again")
    return user


def begin(db: Session, actor: Actor) -> SecondFactorSetup:
    """The secret for the account's new authenticator: the one already under way if the
    person reloads (they may have scanned it), else a new one. Refused once one is set up
    (a lost device is reset by an administrator)."""
    user = _account(db, actor)
    if user.totp_secret is not None:
        raise RegistryError.one(
            "second_factor", "is already set up for this account; after a lost device an administrator resets it"
        )
    if user.totp_pending is None:
        user.totp_pending = pyotp.random_base32(32)
        audit(db, actor, "second_factor", "user", str(user.id), outcome="started")
    return _setup(user, user.totp_pending)


def confirm(db: Session, actor: Actor, code: str, t: datetime) -> None:
    """Set up the factor under way once the person types a code their new device shows."""
    if not isinstance(code, str):
        raise RegistryError.one("code", "must be text: the 6 digits the authenticator shows")
    user = _account(db, actor)
    if user.totp_secret is not None:
        raise RegistryError.one("second_factor", "is already set up for this account")
    if user.totp_pending is None:
        raise RegistryError.one("second_factor", "no set-up is under way: start one first")
    step = accepted_step(user.totp_pending, code, None, t)
    if step is None:
        raise RegistryError.one(
            "code", "is not the code the authenticator shows now: 6 digits; check that the phone's clock is right"
        )
    user.totp_secret, user.totp_pending, user.totp_last_step = user.totp_pending, None, step
    audit(db, actor, "second_factor", "user", str(user.id))


def reset(user: User) -> None:
    """Forget the account's factor (a lost device): it sets up a new one at its next sign-in."""
    user.totp_secret = user.totp_pending = user.totp_last_step = None
