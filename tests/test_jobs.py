"""The API's trial jobs (time limit, eviction, cancellation), writes interrupted half-way
(an exception, SIGTERM, SIGKILL), and the server's memory under 16 concurrent plans."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from ketasim.api.jobs import JobManager
from ketasim.io.files import atomic_path, sweep_partial_files
from ketasim.params import default_parameters
from ketasim.trials.design import parse_design

ROOT = Path(__file__).resolve().parents[1]


def _design(n: int = 10, days: list[float] | None = None) -> Any:
    return parse_design(
        {
            "name": "job",
            "condition": "trd",
            "scale": "MADRS",
            "n_per_arm": n,
            "arms": {"k": {"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 0.5, "days": [0]}]}},
            "assessment_days": days or [0, 1],
            "endpoints": [{"type": "response", "day": 1}],
        }
    )


def _wait(manager: JobManager, job_id: str, seconds: float = 120) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        job = manager.get(job_id)
        assert job is not None
        if job.status in ("done", "failed", "cancelled"):
            return job.status
        time.sleep(0.05)
    raise AssertionError("job did not finish")


@pytest.fixture
def manager() -> Any:
    m = JobManager(default_parameters(), max_running=1, max_jobs=3, max_seconds=600)
    yield m
    m.close()


def test_a_job_over_its_time_limit_is_stopped_with_a_reason() -> None:
    m = JobManager(default_parameters(), max_running=1, max_jobs=3, max_seconds=0.0)
    try:
        job = m.submit(_design(n=3000))  # several chunks: the limit is checked after each
        assert job is not None
        assert _wait(m, job.id) == "cancelled"
        assert job.error is not None and "max_run_seconds" in job.error
        assert job.result is None and job.parquet is None
        assert m.active() == 0
    finally:
        m.close()


def test_the_oldest_finished_jobs_are_evicted_and_their_files_removed(manager: JobManager) -> None:
    ids = []
    for _ in range(3):
        job = manager.submit(_design())
        assert job is not None
        assert _wait(manager, job.id) == "done"
        ids.append(job.id)
    first = manager.get(ids[0])
    assert first is not None and first.parquet is not None and first.parquet.exists()
    fourth = manager.submit(_design())  # max_jobs = 3: the oldest finished one goes
    assert fourth is not None
    assert manager.get(ids[0]) is None and not first.parquet.exists()
    assert manager.get(ids[1]) is not None
    assert _wait(manager, fourth.id) == "done"


def test_only_max_running_jobs_at_once_and_cancel_frees_the_slot_at_once(manager: JobManager) -> None:
    long = manager.submit(_design(n=3000, days=[0, 1, 7, 14]))
    assert long is not None
    assert manager.submit(_design()) is None  # max_running = 1
    cancelled = manager.cancel(long.id)
    assert cancelled is not None and cancelled.status == "cancelled"
    assert manager.active() == 0
    nxt = manager.submit(_design())
    assert nxt is not None  # without waiting for the cancelled job's chunk to end
    assert _wait(manager, nxt.id) == "done"
    assert _wait(manager, long.id) == "cancelled"
    assert long.result is None and long.parquet is None
    assert manager.cancel("no such job") is None


def test_cancelling_a_finished_job_forgets_it(manager: JobManager) -> None:
    job = manager.submit(_design())
    assert job is not None and _wait(manager, job.id) == "done"
    assert job.parquet is not None and job.parquet.exists()
    manager.cancel(job.id)
    assert manager.get(job.id) is None and not job.parquet.exists()


def test_a_stop_signal_whose_exit_was_swallowed_still_commits_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python drops a SystemExit raised by a signal handler running inside a finaliser; the
    write must still not be committed, and must exit with the signal's status."""
    from ketasim.io import files

    monkeypatch.setattr(files, "_terminated_by", [])
    final = tmp_path / "rows.parquet"
    final.write_text("the previous version")
    with pytest.raises(SystemExit) as stopped, atomic_path(final) as tmp:
        tmp.write_text("a full new version")
        with contextlib.suppress(SystemExit):  # the handler, whose exception a finaliser swallows
            files.terminate(signal.SIGTERM)
        tmp.write_text("a full new version")  # the work went on and finished
    assert stopped.value.code == 128 + signal.SIGTERM
    assert files.termination_signal() == signal.SIGTERM
    assert final.read_text() == "the previous version"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.parquet"]


def test_a_write_that_fails_half_way_leaves_nothing(tmp_path: Path) -> None:
    final = tmp_path / "out.html"
    final.write_text("the previous version")
    with pytest.raises(RuntimeError), atomic_path(final) as tmp:
        tmp.write_text("half of a new")
        raise RuntimeError("interrupted")
    assert final.read_text() == "the previous version"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.html"]


def _trial_process(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    design = tmp_path / "t.yaml"
    raw = yaml.safe_load((ROOT / "examples" / "trials" / "stard_level1_citalopram.yaml").read_text())
    raw["n_per_arm"] = 1_000_000  # long enough to be killed while writing, on any machine
    design.write_text(yaml.safe_dump(raw))
    out = tmp_path / "rows.parquet"
    ketasim = Path(sys.executable).with_name("ketasim")
    proc = subprocess.Popen(
        [str(ketasim), "trial", str(design), "--out", str(out), "--format", "json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    end = time.monotonic() + 120
    while not any(p.name.endswith(".part") for p in tmp_path.iterdir()):  # writing has begun
        assert proc.poll() is None and time.monotonic() < end, "the trial did not start writing"
        time.sleep(0.1)
    time.sleep(1.0)
    return proc, out


@pytest.mark.slow
def test_sigterm_during_trial_out_removes_the_temporary_file(tmp_path: Path) -> None:
    proc, out = _trial_process(tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.yaml"]


@pytest.mark.slow
def test_after_sigkill_the_next_write_sweeps_the_leftover(tmp_path: Path) -> None:
    proc, out = _trial_process(tmp_path)
    proc.kill()
    proc.wait(timeout=60)
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert leftovers and not out.exists()  # SIGKILL cannot be caught
    other_process = [p for p in sweep_partial_files(tmp_path)]
    assert sorted(other_process) == sorted(leftovers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.yaml"]
    mine = tmp_path / f".x.ketasim-{os.getpid()}-0123abcd.part"  # this live process's own file stays
    mine.write_text("")
    assert sweep_partial_files(tmp_path) == [] and mine.exists()


@pytest.mark.slow
def test_16_concurrent_plans_keep_the_server_under_1_5_gb() -> None:
    """The server in its own process, 16 plans at once (benchmarks/bench_server_memory.py):
    resident memory peaks under 1.5 GB and returns to within 20% of its starting level."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_server_memory
    finally:
        sys.path.pop(0)
    figures = bench_server_memory.measure(requests=16, copies=100)
    assert figures["all_ok"], figures
    assert figures["rss_peak_mib"] < 1536, figures
    assert figures["rss_after_mib"] <= 1.2 * figures["rss_starting_level_mib"], figures
