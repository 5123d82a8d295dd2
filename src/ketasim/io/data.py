"""The package's own data files (``ketasim/data``): parameters, vocabulary, rules, targets."""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from typing import Any

import yaml


def packaged(path: str) -> Traversable:
    """A file or folder under ``ketasim/data``."""
    return resources.files("ketasim").joinpath("data").joinpath(path)


def read_packaged_yaml(path: str) -> Any:
    """Read one packaged YAML file under ``ketasim/data`` (trusted content, safe loader)."""
    with packaged(path).open("r", encoding="utf-8") as fh:
        return yaml.safe_load(fh)
