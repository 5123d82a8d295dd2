"""The HTTP API and the web pages: one FastAPI app (``ketasim serve``).

Every endpoint returns the same JSON as its CLI command. Bad input is a JSON 4xx naming the
field: 422 in FastAPI's validation-error shape, 413 for an oversized body, 404 for an
unknown job. The limits (``Limits``) are configurable: body size, patient-courses per
trial request, jobs at once, run time per job, and virtual patients for validation.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ketasim import DISCLAIMER, __version__
from ketasim.api._jobs import JobManager
from ketasim.clinic.patient import PatientFile, PlannerError
from ketasim.io.scenario import Scenario, ScenarioError, problems_from_errors
from ketasim.pk import DoseError
from ketasim.population import AGE_RANGE_YEARS, WEIGHT_RANGE_KG
from ketasim.trials.design import TrialDesign, TrialError, check_doses

WEB = resources.files("ketasim") / "web"
EXAMPLES = resources.files("ketasim") / "data" / "examples"


@dataclass(frozen=True)
class Limits:
    """Bounds of the API (over a bound: 413 or 422 naming the limit)."""

    max_body_bytes: int = 1_000_000
    max_patient_courses: int = 200_000
    max_running_jobs: int = 2
    max_stored_jobs: int = 32
    max_run_seconds: float = 600.0
    validation_n: int = 400
    max_validation_n: int = 2000
    forecast_copies: int = 400


class PKBody(BaseModel):
    """``POST /api/pk``: the ``ketasim pk`` options."""

    model_config = ConfigDict(extra="forbid")

    drug: Literal["racemic_ketamine", "esketamine"] = "racemic_ketamine"
    route: Literal["iv", "im", "sc", "intranasal", "oral", "sublingual"] = "iv"
    dose_mg: float | None = Field(default=None, gt=0, le=1000)
    dose_mg_per_kg: float | None = Field(default=None, gt=0, le=20)
    duration_min: float | None = Field(default=None, gt=0, le=1440)
    weight_kg: float = Field(default=70.0, ge=WEIGHT_RANGE_KG[0], le=WEIGHT_RANGE_KG[1])
    age_years: float = Field(default=40.0, ge=AGE_RANGE_YEARS[0], le=AGE_RANGE_YEARS[1])
    sex: Literal["female", "male"] = "male"
    at_h: list[float] | None = Field(default=None, min_length=1, max_length=2000)


class Health(BaseModel):
    """``GET /api/health``."""

    status: Literal["ok"]
    version: str


class JobCreated(BaseModel):
    """``POST /api/trials``."""

    job_id: str


class JobState(BaseModel):
    """``GET /api/trials/{job_id}``."""

    job_id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float = Field(ge=0, le=1)
    result: dict[str, Any] | None
    error: str | None
    parquet: str | None


class Problem(BaseModel):
    """A 4xx error other than a validation error."""

    detail: str


def _no_job(job_id: str, finished: str = "") -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": f"no {finished}trial job {job_id!r}"})


def _unprocessable(problems: list[tuple[str, str]], where: str = "body") -> JSONResponse:
    """422 in FastAPI's validation-error shape: ``{"detail": [{"loc", "msg", "type"}]}``."""
    detail = [
        {
            "loc": [where, *[p for p in path.replace("[", ".").replace("]", "").split(".") if p]],
            "msg": msg,
            "type": "value_error",
        }
        for path, msg in problems
    ]
    return JSONResponse(status_code=422, content={"detail": detail})


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body is not valid JSON"},
    413: {"model": Problem, "description": "The body is over max_body_bytes"},
    422: {"description": "Validation error (names the field)"},
}


def create_app(limits: Limits | None = None) -> FastAPI:
    """The app: API under ``/api``, pages at ``/``, ``/how``, ``/plan``, ``/trial``, ``/validation``."""
    lim = limits or Limits()
    jobs = JobManager(lim.max_running_jobs, lim.max_stored_jobs, lim.max_run_seconds)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()

    app = FastAPI(
        title="ketasim",
        version=__version__,
        description=f"Mechanistic simulator of ketamine and esketamine, dose to symptoms. {DISCLAIMER}",
        lifespan=lifespan,
    )
    validation_cache: dict[int, dict[str, Any]] = {}
    validation_lock = threading.Lock()
    app.state.jobs = jobs
    app.state.limits = lim

    @app.middleware("http")
    async def body_limit(request: Request, call_next: Any) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > lim.max_body_bytes:
            return JSONResponse(
                status_code=413,
                content={
                    "detail": f"request body of {length} bytes is over the limit max_body_bytes = {lim.max_body_bytes}"
                },
            )
        response: Response = await call_next(request)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        where = str(errors[0]["loc"][0]) if errors and errors[0].get("loc") else "body"
        return _unprocessable(problems_from_errors(errors, skip=1), where)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": str(exc.detail)}, headers=exc.headers)

    @app.get("/api/health", response_model=Health, tags=["api"])
    def health() -> dict[str, str]:
        """Liveness and version."""
        return {"status": "ok", "version": __version__}

    @app.post("/api/pk", tags=["api"], responses=ERRORS)
    def pk(body: PKBody) -> Any:
        """The ``ketasim pk`` JSON: concentrations at ``at_h`` and an NCA summary per analyte."""
        from ketasim.pk import DEFAULT_TIMES_H, PKRequest, pk_profile

        if (body.dose_mg is None) == (body.dose_mg_per_kg is None):
            return _unprocessable([("dose_mg", "give exactly one of dose_mg and dose_mg_per_kg")])
        times = body.at_h if body.at_h is not None else list(DEFAULT_TIMES_H)
        if any(t < 0 or t > 24 * 365 for t in times) or any(b <= a for a, b in itertools.pairwise(times)):
            return _unprocessable([("at_h", "times must be increasing, between 0 and 8760 h")])
        request = PKRequest(**{**body.model_dump(exclude={"at_h"}), "at_h": times})
        try:
            return pk_profile(request)
        except DoseError as err:
            name = {"amount_mg": "dose_mg", "amount_mg_per_kg": "dose_mg_per_kg", "duration_h": "duration_min"}
            return _unprocessable([(name.get(err.field, err.field), f"{err.value!r} is not allowed: {err.allowed}")])
        except ValueError as err:
            return _unprocessable([("route", str(err))])

    @app.post("/api/simulate", tags=["api"], responses=ERRORS)
    def simulate(body: Scenario) -> Any:
        """The ``ketasim simulate`` JSON for a scenario (body: a scenario, docs/scenarios.md)."""
        from ketasim.simulate import course_json, simulate_scenario

        try:
            return course_json(simulate_scenario(body))
        except ScenarioError as err:
            return _unprocessable(err.problems)

    @app.post("/api/plan", tags=["api"], responses=ERRORS)
    def plan(body: PatientFile) -> Any:
        """The ``ketasim plan`` JSON for a patient (body: a patient file, docs/planner.md)."""
        from ketasim.clinic.plan import plan_patient

        try:
            return plan_patient(body, copies=lim.forecast_copies)
        except PlannerError as err:
            return _unprocessable(err.problems)

    @app.post(
        "/api/plan/report",
        tags=["api"],
        responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "HTML"}, **ERRORS},
    )
    def plan_report(body: PatientFile) -> Any:
        """The plan as the self-contained HTML report of ``ketasim plan --report``."""
        import tempfile

        from ketasim.clinic.plan import plan_patient
        from ketasim.clinic.report import write_plan_report

        doc = plan_patient(body, copies=lim.forecast_copies)
        with tempfile.TemporaryDirectory() as tmp:
            path = write_plan_report(Path(tmp) / "plan.html", body, doc)
            return HTMLResponse(path.read_text(encoding="utf-8"))

    @app.post("/api/trials", tags=["api"], response_model=JobCreated, status_code=202, responses=ERRORS)
    def submit_trial(body: TrialDesign) -> Any:
        """Start a virtual trial (body: a design, docs/trials.md); poll ``GET /api/trials/{job_id}``."""
        try:
            check_doses(body)
        except TrialError as err:
            return _unprocessable(err.problems)
        courses = body.n_per_arm * len(body.arms) * body.replicates
        if courses > lim.max_patient_courses:
            return _unprocessable(
                [
                    (
                        "n_per_arm",
                        f"{courses} patient-courses is over the limit max_patient_courses = {lim.max_patient_courses}",
                    )
                ]
            )
        if jobs.active() >= lim.max_running_jobs:
            return _unprocessable(
                [("(job)", f"{lim.max_running_jobs} trials are already running (limit max_running_jobs)")]
            )
        return JSONResponse(status_code=202, content={"job_id": jobs.submit(body).id})

    @app.get("/api/trials/{job_id}", tags=["api"], response_model=JobState, responses={404: {"model": Problem}})
    def trial_state(job_id: str) -> Any:
        """Status, progress 0–1 and, when done, the ``ketasim trial`` JSON."""
        job = jobs.get(job_id)
        if job is None:
            return _no_job(job_id)
        return job.as_json()

    @app.delete("/api/trials/{job_id}", tags=["api"], response_model=JobState, responses={404: {"model": Problem}})
    def cancel_trial(job_id: str) -> Any:
        """Cancel a queued or running trial (or forget a finished one)."""
        job = jobs.cancel(job_id)
        if job is None:
            return _no_job(job_id)
        return job.as_json()

    def job_methods(job_id: str) -> JSONResponse:
        # GET and DELETE share this path; without this route the router's 405 would list only GET
        return JSONResponse(status_code=405, content={"detail": "Method Not Allowed"}, headers={"Allow": "GET, DELETE"})

    app.add_api_route(
        "/api/trials/{job_id}",
        job_methods,
        methods=["POST", "PUT", "PATCH", "OPTIONS", "TRACE"],
        include_in_schema=False,
    )

    @app.get("/api/trials/{job_id}/parquet", tags=["api"], responses={404: {"model": Problem}})
    def trial_rows(job_id: str) -> Any:
        """The per-patient, per-assessment rows of a finished trial (Parquet)."""
        job = jobs.get(job_id)
        if job is None or job.parquet is None or not job.parquet.exists():
            return _no_job(job_id, "finished ")
        return FileResponse(
            job.parquet, media_type="application/vnd.apache.parquet", filename=f"trial-{job_id}.parquet"
        )

    @app.get("/api/trials-examples", tags=["api"])
    def trial_examples() -> dict[str, Any]:
        """The published designs of ``examples/trials`` (name → design)."""
        import yaml

        return {
            p.name.removesuffix(".yaml"): yaml.safe_load(p.read_text(encoding="utf-8"))
            for p in sorted((EXAMPLES / "trials").iterdir(), key=lambda q: q.name)
            if p.name.endswith(".yaml")
        }

    @app.get("/api/validation", tags=["api"], responses=ERRORS)
    def validation(n: int = Query(default=lim.validation_n, ge=20, le=lim.max_validation_n)) -> Any:
        """The ``ketasim validate`` JSON (computed once per ``n``, then cached)."""
        from ketasim.trials.validation import validate, validation_json

        with validation_lock:
            if n not in validation_cache:
                validation_cache[n] = validation_json(validate(n=n))
            return validation_cache[n]

    pages = {
        "/": "explore.html",
        "/how": "how.html",
        "/plan": "plan.html",
        "/trial": "trial.html",
        "/validation": "validation.html",
    }
    for route, page in pages.items():

        def serve(page: str = page) -> HTMLResponse:
            return HTMLResponse((WEB / page).read_text(encoding="utf-8"))

        app.add_api_route(route, serve, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        import plotly

        return FileResponse(
            Path(plotly.__file__).parent / "package_data" / "plotly.min.js", media_type="text/javascript"
        )

    app.mount("/static", StaticFiles(directory=str(WEB / "static")), name="static")
    return app
