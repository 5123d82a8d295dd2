"""The second factor at sign-in (OWASP ASVS 4.3.1, 2.8.4) on SQLite and PostgreSQL: codes
checked against RFC 6238's published vectors and an independently written RFC 4226 HOTP,
an administrator confined to setting one up, each code used once, failed codes counted
toward the lock, and a reset after a lost phone."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from threading import Barrier

import pyotp
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from authenticator import Authenticator, enrol
from ketasim.registry import Registry, RegistryError
from ketasim.registry._auth import ENROL_FIRST, MAX_FAILED_LOGINS
from ketasim.registry._models import AuditEvent, LoginSession, User
from ketasim.registry._second_factor import STEPS_EITHER_SIDE, accepted_step
from pg import registry_url

PASSWORD = "correct horse battery"
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC6238_SHA1 = {59: "94287082", 1111111109: "07081804", 1111111111: "14050471", 1234567890: "89005924",
                2000000000: "69279037", 20000000000: "65353130"}  # fmt: skip
"""RFC 6238 Appendix B: time (s) → 8-digit TOTP (SHA-1, 30-s steps); 6 digits are the last six."""


def hotp(secret_b32: str, counter: int, digits: int = 6) -> str:
    """RFC 4226 §5.3, written from the RFC: HMAC-SHA-1, dynamic truncation, modulo 10^digits."""
    mac = hmac.new(base64.b32decode(secret_b32), counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(int.from_bytes(mac[offset : offset + 4], 'big') & 0x7FFFFFFF) % 10**digits:0{digits}d}"


@pytest.mark.parametrize(("t_s", "code8"), RFC6238_SHA1.items())
def test_codes_match_the_rfc_6238_vectors(t_s: int, code8: str) -> None:
    t = datetime.fromtimestamp(t_s, UTC)
    assert hotp(RFC_SECRET, t_s // 30, 8) == code8  # the reference is right
    assert accepted_step(RFC_SECRET, code8[-6:], None, t) == t_s // 30
    assert accepted_step(RFC_SECRET, code8[-6:], t_s // 30, t) is None  # used once


@settings(max_examples=300, deadline=None)
@given(
    secret=st.binary(min_size=20, max_size=20).map(lambda b: base64.b32encode(b).decode()),
    t_s=st.integers(min_value=0, max_value=2**33),
    offset=st.integers(min_value=-4, max_value=4),
    after=st.one_of(st.none(), st.integers(min_value=-3, max_value=3)),
)
def test_a_code_is_accepted_within_one_step_and_once(secret: str, t_s: int, offset: int, after: int | None) -> None:
    now = t_s // 30
    step = now + offset
    assume(step >= 0)  # counters start at the Unix epoch
    code = hotp(secret, step)
    window = {hotp(secret, s) for s in range(max(0, now - STEPS_EITHER_SIDE), now + STEPS_EITHER_SIDE + 1) if s != step}
    if code in window:  # another step in the window shows the same digits (p ≈ 2e-6): no verdict
        return
    last = None if after is None else now + after
    expected = step if abs(offset) <= STEPS_EITHER_SIDE and (last is None or step > last) else None
    assert accepted_step(secret, code, last, datetime.fromtimestamp(t_s, UTC)) == expected


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "１２３４５６", "12 34 5", None, 123456])
def test_malformed_codes_are_refused(code: object) -> None:
    t = datetime.fromtimestamp(59, UTC)
    assert accepted_step(RFC_SECRET, code, None, t) is None  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    r = Registry.open(registry_url(request, tmp_path, "mfa"))
    admin = r.create_user(None, "admin", "Ada Admin", "admin", PASSWORD)
    r.create_user(admin, "nurse", "Nat Nurse", "nurse", PASSWORD)
    r.create_user(admin, "ops", "Opal Ops", "admin", PASSWORD)
    yield r
    r.engine.dispose()


def _user(registry: Registry, username: str) -> User:
    with registry.engine.connect() as c:
        return c.execute(select(User).where(User.username == username)).one()  # type: ignore[return-value]


def test_an_administrator_sets_up_a_second_factor_before_anything_else(registry: Registry) -> None:
    actor, token, _ = registry.login("admin", PASSWORD)
    assert actor.enrol_only and registry.resume(token)[0].enrol_only  # type: ignore[index]
    for refused in (lambda: registry.audit_log(actor), lambda: registry.patients(actor),
                    lambda: registry.create_user(actor, "x", "X", "nurse", PASSWORD)):  # fmt: skip
        with pytest.raises(PermissionError, match=re.escape(ENROL_FIRST)):
            refused()
    _, other, _ = registry.login("admin", PASSWORD)  # a second session with the password alone
    setup = registry.begin_second_factor(token)
    assert registry.begin_second_factor(token) == setup  # a reload shows the same key
    assert registry.begin_second_factor(other).secret != setup.secret  # another session gets its own
    assert pyotp.parse_uri(setup.uri).secret == setup.secret and len(base64.b32decode(setup.secret)) == 20
    phone = Authenticator(setup.secret)
    wrong = f"{(int(phone.totp.now()) + 1) % 10**6:06d}"
    for bad in (wrong, "12345", 123456, None):
        with pytest.raises(RegistryError) as err:
            registry.confirm_second_factor(token, bad)  # type: ignore[arg-type]
        assert err.value.problems[0][0] == "code"
    with pytest.raises(RegistryError):  # the other session's key does not confirm this one
        registry.confirm_second_factor(other, Authenticator(setup.secret).code())
    done, new_token, _ = registry.confirm_second_factor(token, phone.code())
    assert not done.enrol_only and registry.audit_log(done)
    assert registry.resume(token) is None and registry.resume(other) is None  # every earlier session ends
    assert registry.resume(new_token) is not None and not registry.resume(new_token)[0].enrol_only  # type: ignore[index]
    with pytest.raises(RegistryError, match="already set up"):
        registry.begin_second_factor(new_token)
    with pytest.raises(PermissionError):
        registry.begin_second_factor("not-a-session")
    with registry.engine.connect() as c:
        audit = c.execute(select(AuditEvent.action, AuditEvent.outcome, AuditEvent.entity_uid)).all()
    assert ("login", "enrol_only") in {(a, o) for a, o, _ in audit}
    assert {("second_factor", "started"), ("second_factor", "ok")} <= {(a, o) for a, o, _ in audit}
    assert setup.secret not in repr(audit)


def test_a_code_is_needed_at_each_sign_in_once_and_failures_lock(registry: Registry) -> None:
    phone = enrol(registry, "admin", PASSWORD)
    with pytest.raises(PermissionError, match="code"):
        registry.login("admin", PASSWORD)  # the password alone
    assert _user(registry, "admin").failed_logins == 1
    code = phone.code()
    actor, _, _ = registry.login("admin", PASSWORD, code=code)
    assert not actor.enrol_only and _user(registry, "admin").failed_logins == 0
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(PermissionError):
            registry.login("admin", PASSWORD, code=code)  # replayed: refused, but not toward the lock
    assert _user(registry, "admin").failed_logins == 0 and _user(registry, "admin").locked_until is None
    fresh = phone.code()
    with pytest.raises(PermissionError):
        registry.login("admin", "wrong horse battery", code=fresh)  # a code without the password
    wrong = f"{(int(phone.totp.now()) + 1) % 10**6:06d}"
    for _ in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(PermissionError):
            registry.login("admin", PASSWORD, code=wrong)
    with pytest.raises(PermissionError):
        registry.login("admin", PASSWORD, code=fresh)  # locked: the right, unused code no longer helps
    assert _user(registry, "admin").locked_until is not None
    with registry.engine.connect() as c:
        outcomes = [o for (o,) in c.execute(select(AuditEvent.outcome).where(AuditEvent.action == "login"))]
    assert outcomes.count("code_reused") == MAX_FAILED_LOGINS and "locked" in outcomes


def test_racing_sign_ins_with_one_code_let_one_in(registry: Registry) -> None:
    """ASVS 2.8.4 under concurrency: the step is claimed by a conditional UPDATE."""
    phone = enrol(registry, "admin", PASSWORD)
    code = phone.code()

    def attempt(_: int) -> bool:
        try:
            registry.login("admin", PASSWORD, code=code)
        except PermissionError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(attempt, range(4)))
    assert sum(results) == 1, results


def test_a_lost_phone_is_reset_and_anyone_may_add_a_factor(registry: Registry) -> None:
    nurse, _, _ = registry.login("nurse", PASSWORD)
    assert not nurse.enrol_only  # not required of a nurse
    phone = enrol(registry, "nurse", PASSWORD)
    with pytest.raises(PermissionError):
        registry.login("nurse", PASSWORD)
    nurse, token, _ = registry.login("nurse", PASSWORD, code=phone.code())
    enrol(registry, "admin", PASSWORD)
    admin = registry.actor("admin")
    with pytest.raises(RegistryError) as err:
        registry.change_user(admin, "nurse", reset_second_factor="yes")  # type: ignore[typeddict-item]
    assert err.value.problems[0][0] == "reset_second_factor"
    registry.change_user(admin, "nurse", reset_second_factor=True)
    assert registry.resume(token) is None  # her sessions end
    assert _user(registry, "nurse").totp_secret is None
    registry.login("nurse", PASSWORD)  # the password alone again
    registry.change_user(admin, "admin", reset_second_factor=True)  # an admin's own lost phone
    again, _, _ = registry.login("admin", PASSWORD)
    assert again.enrol_only  # back to setting one up
    registry.change_user(admin, "nurse", role="admin")  # promoted: now needs one
    promoted, _, _ = registry.login("nurse", PASSWORD)
    assert promoted.enrol_only


def test_the_migration_goes_down_and_up_with_accounts_and_sessions(registry: Registry) -> None:
    """Dropping 0004's columns keeps the accounts that sessions and audit rows point at."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from ketasim.registry._db import MIGRATIONS

    enrol(registry, "admin", PASSWORD)
    registry.login("nurse", PASSWORD)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with registry.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    columns = {c["name"] for c in inspect(registry.engine).get_columns("users")}
    assert "totp_secret" not in columns and "totp_last_step" not in columns
    assert not inspect(registry.engine).has_table("_alembic_tmp_users")
    with registry.engine.connect() as c:
        assert sorted(c.execute(select(User.username)).scalars()) == ["admin", "nurse", "ops"]
    with registry.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    registry.login("admin", PASSWORD)  # its factor is gone with the columns: set up again


def test_a_sign_in_under_way_while_the_owner_sets_up_a_factor_stays_incomplete(registry: Registry) -> None:
    """The race a review found: the password is checked, the owner confirms a factor, then the
    session is saved. It is void (its credentials were checked before the change)."""
    from ketasim.registry import _auth
    from ketasim.registry._db import transaction

    checked_at = _auth.now()
    with transaction(registry.engine) as db:
        attacker = _auth.authenticate(db, "admin", PASSWORD)
    assert attacker is not None and attacker.enrol_only
    enrol(registry, "admin", PASSWORD)  # the owner, meanwhile
    with transaction(registry.engine) as db:
        token, _ = _auth.start_session(db, attacker, checked_at)
    assert registry.resume(token) is None
    checked_at = _auth.now()  # the same for a password reset during a sign-in
    with transaction(registry.engine) as db:
        nurse = _auth.authenticate(db, "nurse", PASSWORD)
    assert nurse is not None
    registry.change_user(registry.actor("admin"), "nurse", password="a brand new passphrase")
    with transaction(registry.engine) as db:
        token, _ = _auth.start_session(db, nurse, checked_at)
    assert registry.resume(token) is None


def test_two_sessions_confirming_at_once_set_up_one_factor(registry: Registry) -> None:
    """Set-ups of one account run one after the other: one confirms, the other is refused
    (its session ended with the first, or the factor is set up already), never a database
    error such as a deadlock; the stored key is the winner's."""
    tokens = [registry.login("ops", PASSWORD)[1] for _ in range(2)]
    phones = [Authenticator(registry.begin_second_factor(t).secret) for t in tokens]
    codes = [p.code() for p in phones]
    start = Barrier(2)

    def confirm(i: int) -> str | None:
        start.wait()
        try:
            registry.confirm_second_factor(tokens[i], codes[i])
        except (RegistryError, PermissionError):
            return None
        return phones[i].totp.secret

    with ThreadPoolExecutor(max_workers=2) as pool:
        won = [s for s in pool.map(confirm, range(2)) if s is not None]
    assert len(won) == 1 and _user(registry, "ops").totp_secret == won[0]


def test_odd_sign_in_input_is_refused_and_a_key_is_forgotten_with_its_session(registry: Registry) -> None:
    for name, password in (("ad\x00min", PASSWORD), ("admin", "pass\x00word horse")):
        with pytest.raises(PermissionError):
            registry.login(name, password)
    _, token, _ = registry.login("admin", PASSWORD)
    registry.begin_second_factor(token)
    registry.logout(token)
    with registry.engine.connect() as c:
        assert c.execute(select(LoginSession.totp_pending).where(LoginSession.totp_pending.is_not(None))).all() == []
