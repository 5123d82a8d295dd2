"""PK parameter files (``data/pk/*.yaml``): every model number as data, with its unit,
variability and source.

A parameter file is YAML.  Each parameter entry carries ``value``, ``unit`` and ``source``
(authors, year, journal, table), and optionally between-subject variability and covariate
effects.  Values that no publication fixes are flagged ``assumed: true`` with a reason in
``note``.  The loaders below validate the files with pydantic so that a malformed file is
refused with the offending path named.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ketasim.io.data import read_packaged_yaml
from ketasim.vocabulary import DrugName, RouteName, SpeciesName


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PowerCovariate(_Strict):
    """value × (covariate / reference) ** exponent — e.g. allometric weight scaling."""

    kind: Literal["power"]
    covariate: Literal["weight_kg", "age_years"]
    reference: float = Field(gt=0)
    exponent: float
    source: str


class FactorCovariate(_Strict):
    """value × factor when a categorical covariate equals a level (e.g. female sex)."""

    kind: Literal["factor"]
    covariate: Literal["sex"]
    level: str
    factor: float = Field(gt=0)
    source: str


class LinearAboveCovariate(_Strict):
    """value + slope × max(0, covariate − threshold) — e.g. hepatic flow falling with age."""

    kind: Literal["linear_above"]
    covariate: Literal["weight_kg", "age_years"]
    threshold: float
    slope: float
    source: str


Covariate = Annotated[PowerCovariate | FactorCovariate | LinearAboveCovariate, Field(discriminator="kind")]


class Parameter(_Strict):
    """One model parameter with provenance (PK-Sim style)."""

    value: float
    unit: str
    source: str
    iiv_cv_pct: float | None = Field(default=None, ge=0)
    iiv_scale: Literal["log", "logit"] = "log"
    iiv_source: str | None = None
    covariates: tuple[Covariate, ...] = ()
    assumed: bool = False
    note: str | None = None


class Analyte(_Strict):
    """A measured plasma analyte (parent drug or metabolite)."""

    name: str
    molar_mass_g_mol: float = Field(gt=0)
    central: str
    volume: str
    source: str


class Species(_Strict):
    """A receptor-active species: a fraction of one analyte's effect-site concentration."""

    name: SpeciesName
    analyte: str
    fraction: float = Field(gt=0, le=1)
    unbound_fraction: str
    source: str


class RouteInput(_Strict):
    """Where a dose given by one route enters the model."""

    compartment: str
    fraction: str | float = 1.0
    zero_order_duration: str | None = None


class Devices(_Strict):
    """Nasal sprays given as fixed devices a few minutes apart, later devices absorbed less."""

    device_mg: float = Field(gt=0)
    interval_min: float = Field(ge=0)
    first_device_fraction: str
    later_device_factor: str
    source: str


class Route(_Strict):
    """A route of administration: its inputs, absorption and clinical dose bounds."""

    inputs: tuple[RouteInput, ...]
    devices: Devices | None = None
    allowed_session_mg: tuple[float, ...] | None = None
    max_single_dose_mg_per_kg: float | None = Field(default=None, gt=0)
    max_single_dose_mg: float | None = Field(default=None, gt=0)
    bound_source: str
    note: str | None = None


class PKModelFile(_Strict):
    """A published PK model, as data."""

    name: str
    drug: DrugName
    title: str
    citation: str
    structure: str
    analytes: tuple[Analyte, Analyte]
    species: tuple[Species, ...]
    parameters: dict[str, Parameter]
    routes: dict[RouteName, Route]
    cardiac_output: str | None = None
    """The parameter (L/h) of the arterial front end: a dose put straight into the parent's
    central compartment (IV) crosses the lungs first, so arterial blood carries its rate over
    the cardiac output on top of the venous concentration.  None: venous concentrations only."""
    mass_unit: Literal["mg"] = "mg"
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _cardiac_output_is_a_parameter(self) -> PKModelFile:
        if self.cardiac_output is not None and self.cardiac_output not in self.parameters:
            raise ValueError(f"cardiac_output {self.cardiac_output!r} is not one of the file's parameters")
        return self


def _merged(name: str) -> dict[str, Any]:
    """Raw content of a PK file, with ``extends:`` resolved (child entries win)."""
    raw: dict[str, Any] = read_packaged_yaml(f"pk/{name}.yaml")
    parent_name = raw.pop("extends", None)
    if parent_name is None:
        return raw
    merged = _merged(parent_name)
    parameters = {**merged.get("parameters", {}), **raw.pop("parameters", {})}
    merged.update(raw)
    merged["parameters"] = parameters
    return merged


@cache
def load_pk_file(name: str) -> PKModelFile:
    """Load and validate a packaged PK parameter file, e.g. ``"clements_1981"``."""
    return PKModelFile.model_validate(_merged(name))


def parameter_table_markdown(name: str) -> str:
    """A Markdown table of a PK file's parameters: name, value, unit, IIV, covariates, source."""
    spec = load_pk_file(name)
    lines = [
        "| parameter | value | unit | IIV | covariates | source |",
        "|---|---|---|---|---|---|",
    ]
    for pname, p in spec.parameters.items():
        iiv = "" if p.iiv_cv_pct is None else f"{p.iiv_cv_pct:g}% ({p.iiv_scale})"
        covs = "; ".join(_describe_covariate(c) for c in p.covariates)
        source = p.source + (" **assumed**" if p.assumed else "") + (f" — {p.note}" if p.note else "")
        lines.append(f"| `{pname}` | {p.value:g} | {p.unit} | {iiv} | {covs} | {source} |")
    return "\n".join(lines)


def _describe_covariate(c: PowerCovariate | FactorCovariate | LinearAboveCovariate) -> str:
    if isinstance(c, PowerCovariate):
        return f"({c.covariate}/{c.reference:g})^{c.exponent:g}"
    if isinstance(c, FactorCovariate):
        return f"×{c.factor:g} if {c.covariate} = {c.level}"
    return f"{c.slope:+g} per unit of {c.covariate} above {c.threshold:g}"
