"""The planner's data files (``data/clinic/*.yaml``): values with their sources."""

from __future__ import annotations

from functools import cache
from typing import Any

from ketasim.io.data import read_packaged_yaml


@cache
def clinic_file(name: str) -> dict[str, Any]:
    """``data/clinic/<name>.yaml`` as loaded (cached)."""
    data: dict[str, Any] = read_packaged_yaml(f"clinic/{name}.yaml")
    return data


def value(name: str, *path: str) -> Any:
    """The ``value`` at ``path`` in ``data/clinic/<name>.yaml`` (the node itself if it has none)."""
    node: Any = clinic_file(name)
    for p in path:
        node = node[p]
    return node["value"] if isinstance(node, dict) and "value" in node else node
