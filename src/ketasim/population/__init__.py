"""Patients and virtual populations."""

from ketasim.population._covariates import AGE_RANGE_YEARS as AGE_RANGE_YEARS
from ketasim.population._covariates import WEIGHT_RANGE_KG as WEIGHT_RANGE_KG
from ketasim.population._covariates import Covariates as Covariates
from ketasim.population._covariates import Sex as Sex

__all__ = ["AGE_RANGE_YEARS", "WEIGHT_RANGE_KG", "Covariates", "Sex"]
