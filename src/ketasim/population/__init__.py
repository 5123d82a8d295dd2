"""Patients and virtual populations."""

from ketasim.population._covariates import AGE_RANGE_YEARS as AGE_RANGE_YEARS
from ketasim.population._covariates import WEIGHT_RANGE_KG as WEIGHT_RANGE_KG
from ketasim.population._covariates import Covariates as Covariates
from ketasim.population._covariates import Sex as Sex
from ketasim.population._height import HEIGHT_CM as HEIGHT_CM
from ketasim.population._height import sample_height_cm as sample_height_cm
from ketasim.population._virtual import DRUGS as DRUGS
from ketasim.population._virtual import Seeds as Seeds
from ketasim.population._virtual import VirtualPopulation as VirtualPopulation
from ketasim.population._virtual import sample_baselines as sample_baselines
from ketasim.population._virtual import sample_covariates as sample_covariates
from ketasim.population._virtual import sample_population as sample_population

__all__ = [
    "AGE_RANGE_YEARS",
    "DRUGS",
    "HEIGHT_CM",
    "WEIGHT_RANGE_KG",
    "Covariates",
    "Seeds",
    "Sex",
    "VirtualPopulation",
    "sample_baselines",
    "sample_covariates",
    "sample_height_cm",
    "sample_population",
]
