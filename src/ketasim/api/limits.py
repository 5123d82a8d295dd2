"""The API's bounds, configurable (``ketasim serve`` flags; tests use small ones)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ketasim.api.security import DEFAULT_HOSTS


def default_cache_dir() -> Path:
    """Where the server keeps computed validation reports (``$XDG_CACHE_HOME/ketasim``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ketasim"


@dataclass(frozen=True)
class Limits:
    """Bounds of the API: over a bound is a 413, 422 or 503 (with Retry-After) naming it.

    Memory: a plan or a simulation holds one chunk of virtual patients at a time (about
    100 MiB at most), and at most ``max_heavy_requests`` run at once; a trial job streams its
    rows to disk; so the server stays within a few hundred MiB above its baseline.
    """

    max_body_bytes: int = 1_000_000
    max_patient_courses: int = 200_000
    max_running_jobs: int = 2
    max_stored_jobs: int = 32
    max_run_seconds: float = 600.0
    max_heavy_requests: int = 2
    retry_after_s: int = 5
    validation_n: int = 400
    max_validation_n: int = 2000
    forecast_copies: int = 400
    sign_ins_per_minute: int = 10
    """Sign-in attempts one client address may make a minute (ASVS 2.2.1), pages and API together."""
    allowed_hosts: tuple[str, ...] = DEFAULT_HOSTS
    cache_dir: Path | None = None
