"""``ketasim trial``: a virtual clinical trial from a design file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ketasim.cli._app import (
    FormatOption,
    OutputFormat,
    ParamsOption,
    bad,
    check_range,
    console,
    disclaimer,
    echo_json,
    input_file,
    output_file,
    parameters,
    refusing,
)
from ketasim.trials.endpoints import EstimateReport, TrialSummary


def trial_command(
    design_file: Annotated[Path, typer.Argument(metavar="FILE", help="Trial design (YAML/JSON), see docs/trials.md.")],
    output_format: FormatOption = OutputFormat.table,
    out: Annotated[
        Path | None, typer.Option(help="Write per-patient, per-assessment rows to this Parquet file (streamed).")
    ] = None,
    replicates: Annotated[
        int | None, typer.Option(help="Replicate trials (power = fraction significant); default: the design's.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Local worker processes (1–64).")] = 1,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a dask.distributed scheduler (tcp://HOST:PORT) to send chunks to.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the design's).")] = None,
    memory_mib: Annotated[float, typer.Option(help="Memory the run may use (MiB, 256–1048576).")] = 2048.0,
    params_file: ParamsOption = None,
) -> None:
    """Run a virtual clinical trial: every arm's population through the whole model, then
    the endpoints with 95% CIs and arm-vs-control comparisons.  A research and
    decision-support tool: it does not replace clinical judgement."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ketasim.trials.design import MAX_REPLICATES, load_design
    from ketasim.trials.run import check_scheduler
    from ketasim.trials.trial import run_trial

    input_file("FILE", design_file)
    output_file("--out", out, (".parquet",))
    check_range("--replicates", replicates, 1, MAX_REPLICATES)
    check_range("--workers", workers, 1, 64)
    check_range("--memory-mib", memory_mib, 256, 1048576, "MiB")
    if seed is not None and not 0 <= seed < 2**63:
        bad("--seed", f"{seed} is not allowed: 0 to 2^63 − 1")
    flags = {"scheduler": "--scheduler", "memory_mib": "--memory-mib", "(output)": "--out"}
    with refusing("FILE", flags):
        if scheduler is not None:
            check_scheduler(scheduler)
        design = load_design(design_file)
    params = parameters(params_file)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} chunks"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=output_format is OutputFormat.json,
    )
    with refusing("FILE", flags), bar:
        task = bar.add_task(design.name, total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_trial(
            design,
            params,
            replicates=replicates,
            seed=seed,
            out=out,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
            memory_mib=memory_mib,
        )
    if output_format is OutputFormat.json:
        echo_json(result.summary)
        return
    print_trial(result.summary, out)


def _ci(e: EstimateReport) -> str:
    def f(x: float | None) -> str:
        return "—" if x is None else f"{x:.3g}"

    return f"{f(e.value)} ({f(e.ci95[0])} to {f(e.ci95[1])})"


def _p(p: float | None) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def print_trial(doc: TrialSummary, out: Path | None) -> None:
    """The trial's endpoints, comparisons and power as tables."""
    arms = list(doc.arms)
    table = Table(title=f"{doc.trial} — {doc.scale}, value (95% CI)")
    table.add_column("endpoint")
    for arm in arms:
        table.add_column(f"{arm} (n={doc.arms[arm].n})", justify="right")
    for name in doc.arms[arms[0]].endpoints:
        table.add_row(name, *[_ci(doc.arms[a].endpoints[name]) for a in arms])
    console.print(table)
    if doc.comparisons:
        comp = Table(title=f"vs {doc.control}: arm − control (95% CI), p")
        comp.add_column("comparison")
        comp.add_column("estimate (95% CI)", justify="right")
        comp.add_column("statistic")
        comp.add_column("p", justify="right")
        for name, c in doc.comparisons.items():
            comp.add_row(name, _ci(EstimateReport(value=c.difference, ci95=c.ci95)), c.statistic, _p(c.p_value))
        console.print(comp)
    for arm, summary in doc.arms.items():
        left = {reason: count for reason, count in summary.dropout.items() if count}
        if left:
            console.print(
                f"{arm}: left the trial — " + ", ".join(f"{r.replace('_', ' ')} {c}" for r, c in left.items())
            )
    if doc.not_yet_modelled:
        console.print("Accepted but not yet modelled: " + "; ".join(doc.not_yet_modelled))
    if doc.replicates is not None:
        rep = Table(title=f"{doc.replicates.n} replicate trials: power at alpha {doc.replicates.alpha}")
        rep.add_column("comparison")
        rep.add_column("power", justify="right")
        rep.add_column("mean difference", justify="right")
        for name, pw in doc.replicates.comparisons.items():
            mean = "—" if pw.mean_difference is None else f"{pw.mean_difference:.3g}"
            rep.add_row(name, f"{pw.power:.2f}", mean)
        console.print(rep)
    if out is not None:
        console.print(f"per-patient rows: {out}")
    disclaimer()
