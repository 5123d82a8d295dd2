"""An authenticator app for the tests: the codes a phone would show for a TOTP secret, each
used once (the registry refuses a code of a step already used, ASVS 2.8.4), so a test that
signs in more often than the window allows waits for the next 30-s step like a person would."""

from __future__ import annotations

import time

import pyotp

STEP_S = 30
MARGIN_S = 5.0
"""A previous step's code is offered only while it stays valid this long (no flaky edges)."""


class Authenticator:
    """Codes for one secret, never the same step twice."""

    def __init__(self, secret: str, last_step: int | None = None) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last_step = last_step

    def code(self) -> str:
        """The earliest code the server accepts now that this authenticator has not given yet
        (the server takes the previous, current and next step)."""
        while True:
            t = time.time()
            now = int(t // STEP_S)
            lowest = now - 1 if (now + 1) * STEP_S - t > MARGIN_S else now
            step = lowest if self.last_step is None else max(lowest, self.last_step + 1)
            if step <= now + 1:
                self.last_step = step
                return self.totp.generate_otp(step)
            time.sleep((now + 1) * STEP_S - t + 0.05)


def enrol(registry: object, username: str, password: str) -> Authenticator:
    """Set up ``username``'s second factor through the registry's Python API, as its owner
    would (sign in, ask for a key, confirm a code, sign out); the account's authenticator."""
    _, token, _ = registry.login(username, password)  # type: ignore[attr-defined]
    app = Authenticator(registry.begin_second_factor(token).secret)  # type: ignore[attr-defined]
    _, new_token, _ = registry.confirm_second_factor(token, app.code())  # type: ignore[attr-defined]
    registry.logout(new_token)  # type: ignore[attr-defined]
    return app
