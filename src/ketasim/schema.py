"""The base of every input schema (files, HTTP bodies, dose records): strict, closed, frozen.

* unknown keys are refused (``extra="forbid"``);
* NaN and ±Infinity are refused wherever a number is expected (``allow_inf_nan=False``);
* a boolean, or a string, is never taken for a number (:data:`Real`, :data:`Count`), and a
  number never for a boolean (:data:`Flag`);
* a name or identifier is printable text (:data:`Printable`, :data:`Label`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError

from ketasim.errors import InputError

Real = Annotated[float, Strict()]
"""A finite number (an integer is accepted; ``true``, ``"1"`` and NaN are not)."""
Count = Annotated[int, Strict()]
"""A whole number (``true`` and ``1.0`` are not)."""
Flag = Annotated[bool, Strict()]
"""``true`` or ``false`` (``1`` and ``"yes"`` are not)."""

NOT_PRINTABLE = {"Cc": "a control character", "Cs": "a surrogate", "Co": "a private-use character", "Cn": "unassigned"}
"""Unicode general categories a label may not hold, with how the message names them."""


def _printable(text: str) -> str:
    for c in text:
        kind = NOT_PRINTABLE.get(unicodedata.category(c))
        if kind is not None:
            raise ValueError(f"U+{ord(c):04X} is {kind}; only printable text is allowed")
    return text


Printable = Annotated[str, AfterValidator(_printable)]
"""Text with no control, surrogate, private-use or unassigned code points (tabs and newlines
included): names and identifiers."""
Label = Annotated[Printable, Field(max_length=200)]
"""A name shown in reports and figures: printable, at most 200 characters."""


class StrictModel(BaseModel):
    """Closed, frozen, no NaN/Infinity."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


M = TypeVar("M", bound=BaseModel)


def as_model(model: type[M], value: Any, error: type[InputError], argument: str) -> M:
    """A public function's input: the model itself, or a mapping validated into it (the
    ``error`` naming each field); anything else refused naming the ``argument``."""
    if isinstance(value, model):
        return value
    if isinstance(value, Mapping):
        try:
            return model.model_validate(value)
        except ValidationError as err:
            raise error.from_validation(err, value) from None
    raise error.one(argument, f"a {model.__name__} or a mapping of its fields is expected, not {type(value).__name__}")
