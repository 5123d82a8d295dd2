"""Virtual-trial jobs for the HTTP API: run off the request thread, with progress, a time
limit and cancellation."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ketasim.trials.design import TrialDesign
from ketasim.trials.trial import run_trial

Status = Literal["queued", "running", "done", "failed", "cancelled"]


class _StopError(Exception):
    """Raised from the progress callback to stop a job (cancelled or over its time limit)."""


@dataclass
class Job:
    """One trial run."""

    id: str
    design: TrialDesign
    status: Status = "queued"
    progress: float = 0.0
    result: dict[str, Any] | None = None
    error: str | None = None
    parquet: Path | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    started: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """``GET /api/trials/{job_id}``."""
        return {
            "job_id": self.id,
            "status": self.status,
            "progress": round(self.progress, 4),
            "result": self.result,
            "error": self.error,
            "parquet": f"/api/trials/{self.id}/parquet" if self.parquet is not None else None,
        }


class JobManager:
    """At most ``max_running`` trials at once on a thread pool; ``max_jobs`` kept in memory."""

    def __init__(self, max_running: int, max_jobs: int, max_seconds: float) -> None:
        self.max_running = max_running
        self.max_jobs = max_jobs
        self.max_seconds = max_seconds
        self._pool = ThreadPoolExecutor(max_workers=max_running, thread_name_prefix="ketasim-trial")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="ketasim-jobs-"))

    def active(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return sum(j.status in ("queued", "running") for j in self._jobs.values())

    def submit(self, design: TrialDesign) -> Job:
        """Queue a trial (the caller has checked the limits)."""
        job = Job(id=uuid.uuid4().hex, design=design)
        with self._lock:
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
        """Ask a job to stop (it stops at its next chunk); a finished job is forgotten."""
        job = self.get(job_id)
        if job is None:
            return None
        job.cancel.set()
        if job.status == "queued":
            job.status = "cancelled"
        elif job.status != "running":
            with self._lock:
                self._forget(job_id)
        return job

    def _forget(self, job_id: str) -> None:
        job = self._jobs.pop(job_id, None)
        if job is not None and job.parquet is not None:
            job.parquet.unlink(missing_ok=True)

    def _run(self, job: Job) -> None:
        if job.cancel.is_set():
            job.status = "cancelled"
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
            result = run_trial(job.design, out=out, progress=progress)
        except _StopError as stop:
            job.status = "cancelled"
            job.error = str(stop)
            return
        except Exception as err:  # reported to the client as the job's error, never a traceback
            job.status = "failed"
            job.error = f"{type(err).__name__}: {err}"
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
