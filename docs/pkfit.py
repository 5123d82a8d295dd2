"""Shared helpers of the re-runnable PK refits (``docs/fit_norketamine.py``,
``docs/fit_noresketamine.py``): a model with some values replaced, and writing fitted values
with their source back into a packaged parameter file."""

from __future__ import annotations

import re
from pathlib import Path

from ketasim.pk import PKModel

PK_DIR = Path(__file__).resolve().parents[1] / "src/ketasim/data/pk"


def with_values(model: PKModel, values: dict[str, float]) -> PKModel:
    """The model with some parameter values replaced (immutable copy)."""
    params = {
        k: (p.model_copy(update={"value": values[k]}) if k in values else p) for k, p in model.spec.parameters.items()
    }
    return PKModel(model.spec.model_copy(update={"parameters": params}))


def write_values(file: Path, entries: dict[str, tuple[float, str]]) -> None:
    """Replace each entry's ``value`` and ``source`` (a quoted YAML string) in ``file``,
    leaving every other line as it is; an entry not found exactly once is an error."""
    text = file.read_text()
    for name, (value, source) in entries.items():
        pattern = re.compile(rf"(\n  {name}:\n    value: )[^\n]+(\n    unit: [^\n]+\n    source: )[^\n]+")
        text, count = pattern.subn(lambda m, v=value, s=source: f"{m.group(1)}{v}{m.group(2)}{s}", text)
        if count != 1:
            raise SystemExit(f"{name}: expected one entry in {file.name}, found {count}")
    file.write_text(text)
