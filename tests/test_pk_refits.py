"""The PK refits are re-runnable scripts, never hand edits: re-running each one from the
packaged file gives the packaged values (docs/fit_norketamine.py on Chong 2006,
docs/fit_noresketamine.py on Perez-Ruixo 2021 Table 4)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ketasim.pk import load_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))

import fit_noresketamine
import fit_norketamine


def test_the_norketamine_refit_reproduces_the_packaged_values() -> None:
    values, _, _ = fit_norketamine.fit()
    packaged = load_model("racemic_ketamine").spec.parameters
    for name, value in values.items():
        assert packaged[name].value == pytest.approx(value, rel=1e-3), name
        assert "docs/fit_norketamine.py" in packaged[name].source


def test_pooling_yanagihara_still_misses_its_oral_auc_as_documented() -> None:
    """docs/model.md section 3: with Yanagihara 2003's AUCs pooled into the fit (weights by n),
    its oral norketamine AUC stays more than a factor 1.5 below 1000 ng·h/mL, and Chong's IV
    peak falls below x0.85 of its value: the two studies disagree."""
    values, _, after = fit_norketamine.fit(pooled=True)
    model = fit_norketamine.with_values(load_model("racemic_ketamine"), values | {"fp_intranasal": values["fp_oral"]})
    aucs = fit_norketamine.yanagihara_aucs(model)
    assert aucs["oral"] < fit_norketamine.YANAGIHARA["oral"][1] / 1.5
    assert after["iv"][0] / fit_norketamine.CMAX["iv"] < 0.85


def test_the_noresketamine_refit_reproduces_the_packaged_values_and_its_table() -> None:
    base = load_model("esketamine")
    values = fit_noresketamine.fit(base)
    for name, value in values.items():
        assert base.spec.parameters[name].value == pytest.approx(value, rel=1e-3), name
        assert "docs/fit_noresketamine.py" in base.spec.parameters[name].source
    for dose_mg, (cmax, auc) in fit_noresketamine.predictions(base).items():
        assert cmax == pytest.approx(fit_noresketamine.CMAX[dose_mg], rel=0.02)
        assert auc == pytest.approx(fit_noresketamine.AUC_0_24[dose_mg], rel=0.02)
