"""What every route of one app shares: its limits, parameter set, jobs, gate and the
validation store (``app.state.ketasim``)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from ketasim.api.jobs import JobManager, ValidationStore
from ketasim.api.limits import Limits
from ketasim.api.security import Gate
from ketasim.params import ParameterSet


@dataclass(frozen=True)
class Context:
    """One app's shared state."""

    limits: Limits
    params: ParameterSet
    jobs: JobManager
    heavy: Gate
    validation: ValidationStore


def context(request: Request) -> Context:
    """The app's context (a FastAPI dependency)."""
    ctx: Context = request.app.state.ketasim
    return ctx
