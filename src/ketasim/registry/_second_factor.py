"""A second factor at sign-in: time-based one-time codes (TOTP, RFC 6238: six digits, a new
one every 30 s, from an authenticator app on the person's phone), with pyotp.

OWASP ASVS 4.0 level 1, 4.3.1 (administrative interfaces use multi-factor authentication):
an administrator signs in with a password **and** a code. One who has not set up a factor
yet is signed in for that alone (:attr:`Actor.enrol_only <ketasim.registry.Actor>`): every
other request is refused until a code from the new device is confirmed. Any other account
may set one up too, and then needs it at every sign-in. A code is accepted once
(ASVS 2.8.4): the step it was used in is kept, and an older or equal step is refused.
Setting one up belongs to the session that asked (its key is shown to that session only), and
confirming it ends every session of the account, so a session opened with the password
alone never becomes a complete one (the sign-in functions are in ``_auth``).
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
from pydantic import BaseModel
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from ketasim.registry._models import User

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


def new_secret() -> str:
    """A new TOTP secret: 160 random bits in base32 (RFC 4226 §4 recommends 160)."""
    return pyotp.random_base32(32)


def setup_for(user: User, secret: str) -> SecondFactorSetup:
    """The secret and its ``otpauth://`` URI, named ``user@site`` under the issuer ketasim."""
    uri = pyotp.TOTP(secret, digits=CODE_DIGITS).provisioning_uri(
        name=f"{user.username}@{user.site}", issuer_name=ISSUER
    )
    return SecondFactorSetup(secret=secret, uri=uri)


def claim_step(db: Session, user_id: int, step: int) -> bool:
    """Record ``step`` as the account's last code used, unless that step or a later one was
    used already (a replayed code, or two sign-ins racing with the same code): a conditional
    UPDATE, so that of concurrent claims one wins (ASVS 2.8.4)."""
    claimed = db.execute(
        update(User)
        .where(User.id == user_id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]
