"""Pharmacokinetics: dose → plasma and effect-site (brain) concentrations."""

from ketasim.pk._files import PKModelFile as PKModelFile
from ketasim.pk._files import load_pk_file as load_pk_file
from ketasim.pk._files import parameter_table_markdown as parameter_table_markdown
from ketasim.pk._individual import individual_parameters as individual_parameters
from ketasim.pk._individual import sample_etas as sample_etas
from ketasim.pk._model import PK_MODELS as PK_MODELS
from ketasim.pk._model import PKModel as PKModel
from ketasim.pk._model import PKResult as PKResult
from ketasim.pk._model import absorption_rates as absorption_rates
from ketasim.pk._model import load_model as load_model
from ketasim.pk._model import mass_compartments as mass_compartments
from ketasim.pk._profile import DEFAULT_TIMES_H as DEFAULT_TIMES_H
from ketasim.pk._profile import NCASummary as NCASummary
from ketasim.pk._profile import PKProfile as PKProfile
from ketasim.pk._profile import PKRequest as PKRequest
from ketasim.pk._profile import pk_profile as pk_profile
from ketasim.pk.nca import NCA as NCA
from ketasim.pk.nca import compute_nca as compute_nca

__all__ = [
    "DEFAULT_TIMES_H",
    "NCA",
    "PK_MODELS",
    "NCASummary",
    "PKModel",
    "PKModelFile",
    "PKProfile",
    "PKRequest",
    "PKResult",
    "absorption_rates",
    "compute_nca",
    "individual_parameters",
    "load_model",
    "load_pk_file",
    "mass_compartments",
    "parameter_table_markdown",
    "pk_profile",
    "sample_etas",
]
