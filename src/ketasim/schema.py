"""The base of every input schema (files, HTTP bodies, dose records): strict, closed, frozen.

* unknown keys are refused (``extra="forbid"``);
* NaN and ±Infinity are refused wherever a number is expected (``allow_inf_nan=False``);
* a boolean, or a string, is never taken for a number (:data:`Real`, :data:`Count`), and a
  number never for a boolean (:data:`Flag`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Strict

Real = Annotated[float, Strict()]
"""A finite number (an integer is accepted; ``true``, ``"1"`` and NaN are not)."""
Count = Annotated[int, Strict()]
"""A whole number (``true`` and ``1.0`` are not)."""
Flag = Annotated[bool, Strict()]
"""``true`` or ``false`` (``1`` and ``"yes"`` are not)."""


class StrictModel(BaseModel):
    """Closed, frozen, no NaN/Infinity."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
