"""Sign-in throttling by client address (OWASP ASVS 2.2.1): at most ``attempts`` sign-ins per
``window_s`` seconds from one address, then 429 with ``Retry-After``; memory bounded by
``max_clients`` (the oldest address is forgotten first).  Accounts also lock after 5 failures
(:mod:`ketasim.registry`); this stops one client from trying many accounts."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class LoginThrottle:
    """A sliding window of sign-in attempts per client address."""

    def __init__(
        self,
        attempts: int = 10,
        window_s: float = 60.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts, self.window_s, self.max_clients, self.clock = attempts, window_s, max_clients, clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """0 when ``client`` may try now (the attempt is counted), else the seconds to wait."""
        now = self.clock()
        with self._lock:
            times = self._seen.pop(client, deque())
            while times and now - times[0] >= self.window_s:
                times.popleft()
            wait = 0 if len(times) < self.attempts else int(self.window_s - (now - times[0])) + 1
            if not wait:
                times.append(now)
            self._seen[client] = times
            while len(self._seen) > self.max_clients:
                self._seen.popitem(last=False)
            return wait
