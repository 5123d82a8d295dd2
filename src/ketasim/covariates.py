"""Patient covariates for one patient or a whole population, as arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ketasim.errors import InputError

Sex = Literal["female", "male"]

WEIGHT_RANGE_KG = (30.0, 250.0)
AGE_RANGE_YEARS = (18.0, 100.0)


@dataclass(frozen=True)
class Covariates:
    """Covariates of P patients: weight (kg), age (years) and sex, one entry per patient."""

    weight_kg: NDArray[np.float64]
    age_years: NDArray[np.float64]
    female: NDArray[np.bool_]

    @classmethod
    def one(cls, weight_kg: float = 70.0, age_years: float = 40.0, sex: Sex = "male") -> Covariates:
        """A single patient (defaults: 70 kg, 40-year-old man, the PK reference patient)."""
        return cls(
            weight_kg=np.array([weight_kg], dtype=np.float64),
            age_years=np.array([age_years], dtype=np.float64),
            female=np.array([sex == "female"]),
        )

    def check(self) -> None:
        """Refuse covariates outside the ranges the PK models cover (:class:`InputError`)."""
        w, a = np.asarray(self.weight_kg, float), np.asarray(self.age_years, float)
        if w.ndim != 1 or a.shape != w.shape or np.shape(self.female) != w.shape or w.size == 0:
            raise InputError.one("covariates", "weight_kg, age_years and female need one entry per patient")
        for name, values, (lo, hi), unit in (
            ("weight_kg", w, WEIGHT_RANGE_KG, "kg"),
            ("age_years", a, AGE_RANGE_YEARS, "years"),
        ):
            bad = ~np.isfinite(values) | (values < lo) | (values > hi)
            if np.any(bad):
                raise InputError.one(f"covariates.{name}", f"{values[bad][0]:g} is not allowed: {lo:g}–{hi:g} {unit}")

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.weight_kg.size)

    def value(self, name: str) -> NDArray[np.float64]:
        """A continuous covariate by name (``weight_kg`` or ``age_years``)."""
        if name == "weight_kg":
            return self.weight_kg
        if name == "age_years":
            return self.age_years
        raise KeyError(name)

    def is_level(self, name: str, level: str) -> NDArray[np.bool_]:
        """True where a categorical covariate equals ``level`` (only ``sex`` so far)."""
        if name != "sex":
            raise KeyError(name)
        return self.female if level == "female" else ~self.female
