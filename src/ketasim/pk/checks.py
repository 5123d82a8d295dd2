"""Published PK results re-run through the PK models (``data/pk/checks.yaml``): the third
figure of ``ketasim validate``, beside the in-sample and cross-validated targets."""

from __future__ import annotations

from functools import cache
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from ketasim.covariates import Covariates
from ketasim.io.data import read_packaged_yaml
from ketasim.pk._model import load_model
from ketasim.pk.nca import compute_nca
from ketasim.regimens import Dose
from ketasim.schema import Real, StrictModel

GRID_H = np.arange(0.0, 200.0 + 1e-9, 1.0 / 60.0)
IV_REFERENCE = Dose(amount_mg=10.0, duration_h=40.0 / 60.0)
"""The IV reference of a bioavailability check: 10 mg over 40 min (dose-normalised AUCs)."""


class PKCheck(StrictModel):
    """One published PK value: the dose, what is measured, and how close is close enough."""

    id: str
    source: str
    drug: str
    dose: Dose
    analyte: str
    site: Literal["venous", "arterial"] = "venous"
    """Where the samples were drawn: the models' concentrations are venous; arterial adds the
    front end (:attr:`ketasim.pk.PKResult.arterial_ng_ml`)."""
    metric: Literal[
        "concentration_at", "cmax", "auc_0_24", "auc_0_t", "bioavailability", "clearance", "half_life", "tmax"
    ]
    at_h: Real | None = None
    observed: Real
    rel_tol: Real | None = None
    abs_tol: Real | None = None
    fold: Real | None = Field(default=None, gt=1.0)
    """Pass when predicted/observed lies within [1/fold, fold]."""
    range: tuple[Real, Real] | None = None
    note: str | None = None

    def passes(self, predicted: float) -> bool:
        """Within the stated tolerance or range."""
        if self.range is not None:
            return self.range[0] <= predicted <= self.range[1]
        if self.abs_tol is not None:
            return abs(predicted - self.observed) <= self.abs_tol
        if self.fold is not None:
            return 1.0 / self.fold <= predicted / self.observed <= self.fold
        return abs(predicted / self.observed - 1.0) <= (self.rel_tol or 0.0)


class PKCheckRow(BaseModel):
    """A PK check's verdict."""

    id: str
    source: str
    description: str
    observed: float
    predicted: float
    passed: bool
    note: str | None = None


class PKChecks(BaseModel):
    """Every PK check, passed of total."""

    passed: int
    total: int
    checks: list[PKCheckRow]


@cache
def load_checks() -> tuple[PKCheck, ...]:
    """The packaged PK checks, in file order."""
    return tuple(PKCheck.model_validate(c) for c in read_packaged_yaml("pk/checks.yaml"))


def predict_check(check: PKCheck) -> float:
    """The model's value of a check's metric (typical patient)."""
    model = load_model(check.drug)
    result = model.simulate([check.dose], GRID_H)
    conc = (result.arterial_ng_ml if check.site == "arterial" else result.concentrations_ng_ml)[check.analyte][0]
    if check.metric == "concentration_at":
        return float(np.interp(check.at_h or 0.0, GRID_H, conc))
    if check.metric == "cmax":
        return float(np.max(conc))
    if check.metric == "tmax":
        return float(GRID_H[int(np.argmax(conc))] - (check.dose.duration_h or 0.0))
    if check.metric in ("auc_0_24", "auc_0_t"):
        keep = (24.0 if check.metric == "auc_0_24" else (check.at_h or 0.0)) + 1e-9 >= GRID_H
        return compute_nca(GRID_H[keep], conc[keep]).auc_0_t_ng_h_ml
    if check.metric == "half_life":
        return compute_nca(GRID_H, conc).half_life_h
    if check.metric == "clearance":  # dose/AUC0-inf in L/h: 1 mg per ng·h/mL is 1,000 L/h
        dose_mg = check.dose.amount_for(float(Covariates.one().weight_kg[0]))
        return 1000.0 * dose_mg / compute_nca(GRID_H, conc).auc_0_inf_ng_h_ml
    ref = model.simulate([IV_REFERENCE], GRID_H).concentrations_ng_ml[check.analyte][0]
    amount = check.dose.amount_mg or 0.0
    auc = compute_nca(GRID_H, conc).auc_0_inf_ng_h_ml / amount
    return auc / (compute_nca(GRID_H, ref).auc_0_inf_ng_h_ml / (IV_REFERENCE.amount_mg or 1.0))


def pk_checks() -> PKChecks:
    """Every packaged PK check, observed vs predicted."""
    rows = []
    for c in load_checks():
        value = predict_check(c)
        d = c.dose
        amount = f"{d.amount_mg:g} mg" if d.amount_mg is not None else f"{d.amount_mg_per_kg:g} mg/kg"
        rows.append(
            PKCheckRow(
                id=c.id,
                source=c.source,
                description=f"{c.drug} {amount} {d.route}: {c.site} {c.analyte} {c.metric}",
                observed=c.observed,
                predicted=float(f"{value:.4g}"),
                passed=c.passes(value),
                note=c.note,
            )
        )
    return PKChecks(passed=sum(r.passed for r in rows), total=len(rows), checks=rows)
