"""One call for a whole virtual trial: :func:`run_trial`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ketasim.params import ParameterSet, default_parameters
from ketasim.trials.design import TrialDesign
from ketasim.trials.endpoints import TrialSummary, summarise
from ketasim.trials.run import DEFAULT_MEMORY_MIB, Plan, Progress, execute


@dataclass(frozen=True)
class TrialResult:
    """Endpoints (the ``ketasim trial`` result), and the per-patient rows: a table in memory,
    or the Parquet file they were streamed to."""

    summary: TrialSummary
    rows: pa.Table | None
    rows_path: Path | None
    plan: Plan


def run_trial(
    design: TrialDesign,
    params: ParameterSet | None = None,
    *,
    replicates: int | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
    memory_mib: float = DEFAULT_MEMORY_MIB,
) -> TrialResult:
    """Simulate every arm (and replicate) of ``design``; ``replicates`` and ``seed`` override
    the design's.  Raises ``TrialError`` before computing if the run cannot fit in memory."""
    if seed is not None:
        design = design.model_copy(update={"seed": seed})
    reps = replicates if replicates is not None else design.replicates
    results, rows, plan = execute(
        design,
        params or default_parameters(),
        replicates=reps,
        out=out,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        memory_mib=memory_mib,
    )
    summary = summarise(design, results, reps)
    return TrialResult(summary=summary, rows=rows, rows_path=None if out is None else Path(out), plan=plan)
