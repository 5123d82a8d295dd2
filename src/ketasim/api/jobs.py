"""Long computations for the HTTP API, off the request thread: virtual-trial jobs (progress,
time limit, cancellation) and the validation report (computed once, kept on disk)."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from ketasim import __version__
from ketasim.api.security import release_memory
from ketasim.io.files import atomic_path
from ketasim.params import ParameterSet
from ketasim.pk.checks import pk_checks
from ketasim.trials.design import TrialDesign
from ketasim.trials.endpoints import TrialSummary
from ketasim.trials.targets import load_targets
from ketasim.trials.trial import run_trial
from ketasim.trials.validation import Evaluator, ValidationReport, cross_validate, evaluate, report

Status = Literal["queued", "running", "done", "failed", "cancelled"]


class JobState(BaseModel):
    """``GET /api/trials/{job_id}``: status, progress 0–1 and, when done, the result."""

    job_id: str
    status: Status
    progress: float = Field(ge=0, le=1)
    result: TrialSummary | None
    error: str | None
    parquet: str | None


class _StopError(Exception):
    """Raised from the progress callback to stop a job (cancelled or over its time limit)."""


@dataclass
class Job:
    """One trial run."""

    id: str
    design: TrialDesign
    status: Status = "queued"
    progress: float = 0.0
    result: TrialSummary | None = None
    error: str | None = None
    parquet: Path | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    started: float = 0.0

    def state(self) -> JobState:
        """The job as the API reports it."""
        return JobState(
            job_id=self.id,
            status=self.status,
            progress=round(self.progress, 4),
            result=self.result,
            error=self.error,
            parquet=f"/api/trials/{self.id}/parquet" if self.parquet is not None else None,
        )


class JobManager:
    """At most ``max_running`` trials queued or running; ``max_jobs`` kept in memory, the
    oldest finished ones forgotten first.  A cancelled job frees its slot at once; its
    thread stops at the end of the chunk it is computing."""

    def __init__(self, params: ParameterSet, max_running: int, max_jobs: int, max_seconds: float) -> None:
        self.params = params
        self.max_running = max_running
        self.max_jobs = max_jobs
        self.max_seconds = max_seconds
        # twice the slots: a cancelled job may still finish its chunk while a new one starts
        self._pool = ThreadPoolExecutor(max_workers=2 * max_running, thread_name_prefix="ketasim-trial")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="ketasim-jobs-"))

    def active(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return sum(j.status in ("queued", "running") for j in self._jobs.values())

    def submit(self, design: TrialDesign) -> Job | None:
        """Queue a trial, or None when ``max_running`` are already queued or running."""
        job = Job(id=uuid.uuid4().hex, design=design)
        with self._lock:
            if sum(j.status in ("queued", "running") for j in self._jobs.values()) >= self.max_running:
                return None
            finished = [j for j in self._jobs.values() if j.status not in ("queued", "running")]
            while len(self._jobs) >= self.max_jobs and finished:
                self._forget(finished.pop(0).id)
            self._jobs[job.id] = job
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job, or None."""
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        """Stop a queued or running job (its slot is free at once), or forget a finished one."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            job.cancel.set()
            if job.status in ("queued", "running"):
                job.status = "cancelled"
                job.error = "cancelled"
            else:
                self._forget(job_id)
            return job

    def _forget(self, job_id: str) -> None:
        job = self._jobs.pop(job_id, None)
        if job is not None and job.parquet is not None:
            job.parquet.unlink(missing_ok=True)

    def _run(self, job: Job) -> None:
        if job.cancel.is_set():
            return
        job.status = "running"
        job.started = time.monotonic()
        out = self._dir / f"{job.id}.parquet"

        def progress(done: int, total: int) -> None:
            job.progress = done / max(total, 1)
            if job.cancel.is_set():
                raise _StopError("cancelled")
            if time.monotonic() - job.started > self.max_seconds:
                raise _StopError(f"stopped: over the run-time limit of {self.max_seconds:g} s (max_run_seconds)")

        try:
            result = run_trial(job.design, self.params, out=out, progress=progress)
        except _StopError as stop:
            with self._lock:
                job.status = "cancelled"
                job.error = str(stop)
            return
        except Exception as err:  # reported to the client as the job's error, never a traceback
            job.status = "failed"
            job.error = f"{type(err).__name__}: {err}"
            return
        finally:
            release_memory()
        with self._lock:
            if job.cancel.is_set():  # cancelled during the last chunk
                out.unlink(missing_ok=True)
                return
            job.result = result.summary
            job.parquet = out
            job.progress = 1.0
            job.status = "done"

    def close(self) -> None:
        """Stop accepting work and remove the job files."""
        for job in list(self._jobs.values()):
            job.cancel.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self._dir, ignore_errors=True)


class ValidationPending(BaseModel):
    """``GET /api/validation`` while the report is being computed (HTTP 202)."""

    status: Literal["computing"] = "computing"
    progress: float = Field(ge=0, le=1)


class ValidationStore:
    """The validation report for this server's parameter set: computed once per ``n`` in a
    background thread, then kept in memory and on disk (``cache_dir``), so a restart or a
    second server with the same parameters and version does not compute it again."""

    def __init__(self, params: ParameterSet, cache_dir: Path | None, max_exposures: int = 2) -> None:
        self.params = params
        self.cache_dir = cache_dir
        self.max_exposures = max_exposures
        self._reports: dict[int, ValidationReport] = {}
        self._progress: dict[int, float] = {}
        self._lock = threading.Lock()

    def _path(self, n: int) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"validation-{__version__}-{self.params.digest}-n{n}.json"

    def _from_disk(self, n: int) -> ValidationReport | None:
        path = self._path(n)
        if path is None or not path.is_file():
            return None
        try:
            return ValidationReport.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, ValidationError):
            path.unlink(missing_ok=True)  # a damaged cache entry is computed again
            return None

    def get(self, n: int) -> ValidationReport | ValidationPending:
        """The report, or its progress while it is computed (the first call starts it)."""
        with self._lock:
            if n in self._reports:
                return self._reports[n]
            cached = self._from_disk(n)
            if cached is not None:
                self._reports[n] = cached
                return cached
            if n not in self._progress:
                self._progress[n] = 0.0
                threading.Thread(target=self._compute, args=(n,), daemon=True, name="ketasim-validation").start()
            return ValidationPending(progress=round(self._progress[n], 4))

    def _compute(self, n: int) -> None:
        targets = load_targets()

        folds = self.params.calibration.cross_validation
        total = len(targets) + sum(len(f.held_out) for f in folds)

        def progress(done: int) -> None:
            self._progress[n] = done / total

        try:
            ev = Evaluator(n=n, params=self.params, max_exposures=self.max_exposures)
            in_sample = evaluate(targets, ev, progress)
            cv = cross_validate(
                self.params, n, max_exposures=self.max_exposures, progress=lambda i: progress(len(targets) + i)
            )
            result = report(in_sample, n, self.params, cv, pk_checks())
            path = self._path(n)
            if path is not None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with atomic_path(path) as tmp:
                        tmp.write_text(result.model_dump_json(), encoding="utf-8")
                except OSError:
                    pass  # the cache is an optimisation: serve from memory
            with self._lock:
                self._reports[n] = result
        finally:
            with self._lock:
                self._progress.pop(n, None)
            release_memory()
