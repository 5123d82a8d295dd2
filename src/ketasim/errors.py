"""Errors for input that ketasim refuses: each names the field, the value and what is allowed.

Every public entry (Python API, files, CLI, HTTP) raises an :class:`InputError` (or one of its
kinds) before it computes anything; the CLI turns it into exit code 2, the API into a 4xx.
An error holds (field path, message) pairs so that a file with three problems reports three.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from pydantic import ValidationError

Problem = tuple[str, str]
MAX_PROBLEMS = 50
"""An error reports at most this many problems (the last says how many more were found)."""


class InputError(ValueError):
    """Input refused before anything was computed: (field path, message) pairs."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        found = list(problems) or [("(input)", "invalid")]
        if len(found) > MAX_PROBLEMS:  # a file with 100,000 bad entries reports 50 lines, not 30 MB
            more = len(found) - (MAX_PROBLEMS - 1)
            found = [*found[: MAX_PROBLEMS - 1], ("(input)", f"{more} more problems not shown")]
        self.problems: list[Problem] = found
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.problems))

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable (a worker process's error reaches the caller intact, not as a broken pool)."""
        return (_rebuild, (type(self), self.problems))

    @classmethod
    def one(cls, field: str, message: str) -> Self:
        """A single problem."""
        return cls([(field, message)])

    @classmethod
    def from_validation(cls, err: ValidationError, data: Any = None, *, skip: int = 0) -> Self:
        """From pydantic's errors, with field paths like ``treatment[0].days``."""
        return cls(problems_from_errors(err.errors(), data, skip=skip))

    def under(self, prefix: str) -> Self:
        """The same problems with field paths below ``prefix`` (e.g. ``arms.ketamine``)."""
        return type(self)([(join_path(prefix, field), message) for field, message in self.problems])


class ScenarioError(InputError):
    """A scenario (one patient, a treatment, a follow-up) that failed validation."""


class TrialError(InputError):
    """A trial design, or a trial run, that failed validation."""


class PlannerError(InputError):
    """A patient file for the clinical planner that failed validation."""


class RulesError(InputError):
    """A clinic rules file that failed validation."""


class OutputError(InputError):
    """An output file that cannot be written where the user asked."""


class ParameterError(InputError):
    """A parameter file, or a parameter value, that failed validation."""


class DoseError(InputError):
    """A dose outside what the model or the clinical bounds allow (refused, never clipped)."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__([(field, f"{show(value)} is not allowed: {allowed}")])

    def __reduce__(self) -> tuple[Any, ...]:
        return (DoseError, (self.field, self.value, self.allowed))

    def renamed(self, names: Mapping[str, str], prefix: str = "") -> DoseError:
        """The same error with the field renamed (``amount_mg`` → ``dose_mg``) below ``prefix``."""
        return DoseError(join_path(prefix, names.get(self.field, self.field)), self.value, self.allowed)


def _rebuild(kind: type[InputError], problems: list[Problem]) -> InputError:
    """An :class:`InputError` of ``kind`` from its problems (unpickling)."""
    return kind(problems)


def join_path(prefix: str, field: str) -> str:
    """``arms.x`` + ``treatment[0]`` → ``arms.x.treatment[0]``; an index joins without a dot."""
    if not prefix or field in ("", "(body)"):
        return prefix or field
    return prefix + field if field.startswith("[") else f"{prefix}.{field}"


def show(value: object) -> str:
    """A value as the user typed it: ``nan``, ``true``, ``'iv'``, ``1.5``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return f"{value:g}"
    return type(value).__name__


_OWN_FIELD = re.compile(r"^([A-Za-z0-9_.\-\[\]]+): (.*)$", re.DOTALL)
_MESSAGE_TYPES = ("value_error", "assertion_error")


def problems_from_errors(errors: Sequence[Any], data: Any = None, *, skip: int = 0) -> list[Problem]:
    """(field path, message) pairs from pydantic's error list.

    The first ``skip`` parts of each location are dropped (FastAPI's ``body``).  A union's
    tag (``treatment[0].ketamine.days``) is recognised from ``data``, the validated input:
    a location part that is not a key of the input mapping but equals its ``kind`` or
    ``type`` is the tag and is left out, so an arm *named* ``ketamine`` keeps its name.  A
    model-level check whose message starts with its own field (``days: ...``) is moved to
    that field.  Type errors show the offending value.  A list "too short" only because its
    own items failed is left out (the items' errors say why).
    """
    problems: list[Problem] = []
    failed_items = {
        tuple(e["loc"][: i + 1]) for e in errors for i, part in enumerate(e["loc"]) if isinstance(part, int)
    }
    for e in errors:
        if e["type"] == "too_short" and any(loc[:-1] == tuple(e["loc"]) for loc in failed_items):
            continue
        parts: list[str] = []
        node: Any = data
        for loc in list(e["loc"])[skip:]:
            if isinstance(loc, int):
                parts[-1:] = [f"{parts[-1]}[{loc}]"] if parts else [f"[{loc}]"]
                node = node[loc] if isinstance(node, list | tuple) and -len(node) <= loc < len(node) else None
                continue
            if isinstance(node, Mapping) and loc not in node and loc in (node.get("kind"), node.get("type")):
                continue  # the tag of a discriminated union, not a field
            parts.append(str(loc))
            node = node.get(loc) if isinstance(node, Mapping) else None
        message = str(e["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if e["type"] == "extra_forbidden":
            message = "unknown key (not allowed here)"
        elif e["type"] == "missing":
            message = "required (missing)"
        elif e["type"] not in _MESSAGE_TYPES and not isinstance(e.get("input"), Mapping | list | tuple):
            message = f"{show(e.get('input'))} is not allowed: {message}"
        own = _OWN_FIELD.match(message) if e["type"] in _MESSAGE_TYPES else None
        if own:
            parts.append(own.group(1))
            message = own.group(2)
        problems.append((".".join(parts).replace(".[", "[") or "(body)", message))
    return problems
