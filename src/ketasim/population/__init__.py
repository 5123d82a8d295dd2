"""Patients and virtual populations."""

from ketasim.population._covariates import AGE_RANGE_YEARS as AGE_RANGE_YEARS
from ketasim.population._covariates import WEIGHT_RANGE_KG as WEIGHT_RANGE_KG
from ketasim.population._covariates import Covariates as Covariates
from ketasim.population._covariates import Sex as Sex
from ketasim.population._virtual import Seeds as Seeds
from ketasim.population._virtual import sample_baselines as sample_baselines
from ketasim.population._virtual import sample_covariates as sample_covariates

__all__ = [
    "AGE_RANGE_YEARS",
    "WEIGHT_RANGE_KG",
    "Covariates",
    "Seeds",
    "Sex",
    "sample_baselines",
    "sample_covariates",
]
