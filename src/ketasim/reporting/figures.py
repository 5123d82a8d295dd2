"""Static figures (matplotlib, no display needed): each returns the PNG's bytes and, given a
path, also writes it there (atomically)."""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ketasim import DISCLAIMER
from ketasim.io.files import atomic_path

if TYPE_CHECKING:
    from ketasim.clinic.forecast import Forecast
    from ketasim.model.scenario import CourseReport
    from ketasim.trials.validation import TargetRow


def _save(fig: Any, path: str | Path | None, dpi: int, tight: bool = True) -> bytes:
    """Stamp the disclaimer, render the PNG (and write it atomically to ``path``), close the figure."""
    fig.text(0.5, 0.004, DISCLAIMER, ha="center", va="bottom", fontsize=7, color="0.35")
    if tight:
        fig.tight_layout(rect=(0, 0.025, 1, 1))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A user's name in a script the bundled font lacks (CJK, say) is drawn as boxes in the
        # PNG; the HTML page around it shows the name in full, so this is not an error.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        fig.savefig(buffer, dpi=dpi, format="png")
    plt.close(fig)
    png = buffer.getvalue()
    if path is not None:
        with atomic_path(path) as tmp:
            tmp.write_bytes(png)
    return png


def plot_pk_profiles(
    panels: Sequence[tuple[str, Sequence[float], Mapping[str, Sequence[float]]]],
    path: str | Path | None = None,
) -> bytes:
    """One panel per regimen: concentration (ng/mL) of each analyte against time (h).

    ``panels`` holds (title, times_h, {analyte: concentrations}).  Written atomically as PNG.
    """
    n = len(panels)
    fig, axes = plt.subplots(n, 1, figsize=(7.5, 2.4 * n + 0.6), squeeze=False, sharex=False)
    for ax, (title, times_h, conc) in zip(axes[:, 0], panels, strict=True):
        for analyte, values in conc.items():
            ax.plot(times_h, values, label=analyte)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("plasma (ng/mL)")
        ax.legend(fontsize=8, frameon=False)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time after dose (h)")
    return _save(fig, path, dpi=110)


def _days(times_h: Sequence[float]) -> list[float]:
    return [t / 24.0 for t in times_h]


def plot_cascade(
    courses: Sequence[tuple[str, CourseReport]],
    path: str | Path | None = None,
    scale: str | None = None,
) -> bytes:
    """The cascade figure: stacked panels sharing time (days) — concentration → occupancy →
    glutamate → BDNF → mTORC1 → synapses → symptom score — with dissociation and blood
    pressure beside.  ``courses`` holds (label, course) pairs; the first is the ketamine
    course, others are comparators drawn on the symptom panel."""
    left = [
        ("plasma (ng/mL)", lambda c: c.concentrations_ng_ml),
        ("NMDA occupancy", lambda c: {"occupancy": c.states["nmda_occupancy"]}),
        ("glutamate (rise)", lambda c: {"glutamate": c.states["glutamate"]}),
        ("BDNF (index)", lambda c: {"BDNF": c.states["bdnf"]}),
        ("mTORC1 (index)", lambda c: {"mTORC1": c.states["mtorc1"]}),
        (
            "synapses (index)",
            lambda c: {"synapses": c.states["synapses"], "stable": c.states["spines_stable"]},
        ),
    ]
    fig = plt.figure(figsize=(11.5, 13.0))
    grid = fig.add_gridspec(len(left) + 1, 2, width_ratios=(2.2, 1.0), hspace=0.35, wspace=0.25)
    label0, first = courses[0]
    scale = scale or next(iter(first.scales))
    t = _days(first.times_h)
    axes: list[Any] = []
    for i, (ylabel, pick) in enumerate(left):
        ax = fig.add_subplot(grid[i, 0], sharex=axes[0] if axes else None)
        for name, values in pick(first).items():  # type: ignore[no-untyped-call]
            ax.plot(t, values, lw=1.0, label=name)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7, labelbottom=False)
        ax.grid(alpha=0.3)
        if len(pick(first)) > 1:  # type: ignore[no-untyped-call]
            ax.legend(fontsize=7, frameon=False, loc="upper right")
        axes.append(ax)
    ax = fig.add_subplot(grid[len(left), 0], sharex=axes[0])
    for label, course in courses:
        if scale in course.scales:
            ax.plot(_days(course.times_h), course.scales[scale], lw=1.4, label=label)
    ax.set_ylabel(f"{scale} score", fontsize=8)
    ax.set_xlabel("days from the first session", fontsize=8)
    if ax.get_legend_handles_labels()[0]:  # nothing to label: a scale no course has, or labels matplotlib hides ("_…")
        ax.legend(fontsize=7, frameon=False)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)
    # side effects over the first session's 6 hours
    session0 = first.sessions[0].time_h if first.sessions else 0.0
    window = [i for i, h in enumerate(first.times_h) if session0 <= h <= session0 + 6.0]
    hours = [first.times_h[i] - session0 for i in window]
    side = fig.add_subplot(grid[0:3, 1])
    side.plot(hours, [first.adverse["cadss"][i] for i in window], color="tab:purple")
    side.axhline(4.0, color="0.5", ls=":", lw=0.8)
    side.set_title("dissociation, first session", fontsize=9)
    side.set_ylabel("CADSS", fontsize=8)
    side.set_xlabel("hours after start", fontsize=8)
    side.tick_params(labelsize=7)
    side.grid(alpha=0.3)
    bp = fig.add_subplot(grid[4:7, 1])
    bp.plot(hours, [first.adverse["sbp_mmhg"][i] for i in window], label="systolic")
    bp.plot(hours, [first.adverse["dbp_mmhg"][i] for i in window], label="diastolic")
    bp.set_title("blood pressure, first session", fontsize=9)
    bp.set_ylabel("mmHg", fontsize=8)
    bp.set_xlabel("hours after start", fontsize=8)
    bp.legend(fontsize=7, frameon=False)
    bp.tick_params(labelsize=7)
    bp.grid(alpha=0.3)
    fig.suptitle(f"Why ketamine acts in hours: {label0}", fontsize=11)
    return _save(fig, path, dpi=100, tight=False)


def plot_validation(rows: Sequence[TargetRow], path: str | Path | None = None) -> bytes:
    """Observed vs predicted, one panel per target family, tolerance as error bars."""
    families = sorted({r.family for r in rows})
    ncols = 3
    nrows = (len(families) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(11, 3.2 * nrows), squeeze=False)
    for ax, family in zip(axes.flat, families, strict=False):
        sub = [r for r in rows if r.family == family and r.predicted is not None]
        for r in sub:
            color = "tab:green" if r.passed else "tab:red"
            ax.errorbar(r.observed, r.predicted, xerr=r.tolerance or None, fmt="o", ms=4, color=color, lw=0.8)
        values = [v for r in sub for v in (r.observed, r.predicted) if v is not None]
        if values:
            lo, hi = min(values), max(values)
            pad = 0.1 * (hi - lo or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", lw=0.8, ls="--")
        missing = sum(1 for r in rows if r.family == family and r.predicted is None)
        passed = sum(1 for r in rows if r.family == family and r.passed)
        total = sum(1 for r in rows if r.family == family)
        ax.set_title(f"{family}: {passed}/{total} pass" + (f", {missing} not computed" if missing else ""), fontsize=9)
        ax.set_xlabel("observed", fontsize=8)
        ax.set_ylabel("predicted", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(families) :]:
        ax.axis("off")
    return _save(fig, path, dpi=100)


def plot_forecast(forecast: Forecast, path: str | Path | None = None) -> bytes:
    """The course forecast: median and 10–90% band on the patient's scale against day, the
    prior band when observed scores narrowed it, and the observed scores."""
    fig, ax = plt.subplots(figsize=(8.0, 3.8))
    days = forecast.days
    if forecast.prior is not None:
        prior = forecast.prior
        ax.fill_between(days, prior.p10, prior.p90, color="0.85", label="10–90% before the observed scores")
    ax.fill_between(days, forecast.p10, forecast.p90, color="tab:blue", alpha=0.3, label="10–90% band")
    ax.plot(days, forecast.median, color="tab:blue", label="median")
    obs = [o for o in forecast.observed_scores if o.scale == forecast.scale]
    if obs:
        ax.plot([o.day for o in obs], [o.score for o in obs], "ko", label="observed")
    ax.set_xlabel("day (0 = first session)")
    ax.set_ylabel(forecast.scale)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path, dpi=110)
