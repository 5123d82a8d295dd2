"""Patients and virtual populations."""

from ketasim.covariates import AGE_RANGE_YEARS as AGE_RANGE_YEARS
from ketasim.covariates import WEIGHT_RANGE_KG as WEIGHT_RANGE_KG
from ketasim.covariates import Covariates as Covariates
from ketasim.covariates import Sex as Sex
from ketasim.population._height import HEIGHT_CM as HEIGHT_CM
from ketasim.population._height import sample_height_cm as sample_height_cm
from ketasim.population._sessions import session_normals as session_normals
from ketasim.population._virtual import POPULATION_WEIGHT_RANGE_KG as POPULATION_WEIGHT_RANGE_KG
from ketasim.population._virtual import Demographics as Demographics
from ketasim.population._virtual import Seeds as Seeds
from ketasim.population._virtual import Setting as Setting
from ketasim.population._virtual import VirtualPopulation as VirtualPopulation
from ketasim.population._virtual import sample_baselines as sample_baselines
from ketasim.population._virtual import sample_covariates as sample_covariates
from ketasim.population._virtual import sample_population as sample_population
from ketasim.population._virtual import typical_gains as typical_gains

__all__ = [
    "AGE_RANGE_YEARS",
    "HEIGHT_CM",
    "POPULATION_WEIGHT_RANGE_KG",
    "WEIGHT_RANGE_KG",
    "Covariates",
    "Demographics",
    "Seeds",
    "Setting",
    "Sex",
    "VirtualPopulation",
    "sample_baselines",
    "sample_covariates",
    "sample_height_cm",
    "sample_population",
    "session_normals",
    "typical_gains",
]
