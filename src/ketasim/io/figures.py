"""Static figures (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ketasim import DISCLAIMER
from ketasim.io.files import atomic_path


def plot_pk_profiles(
    panels: Sequence[tuple[str, Sequence[float], Mapping[str, Sequence[float]]]],
    path: str | Path,
) -> Path:
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
    fig.text(0.5, 0.005, DISCLAIMER, ha="center", va="bottom", fontsize=7, color="0.35")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)
