"""Published PK targets reproduced by ketasim, each with its stated tolerance.

A target the model misses is kept, marked xfail(strict=True) with the reason, so that the
miss stays visible and a future fix is noticed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketasim.covariates import Covariates
from ketasim.pk import compute_nca, load_model
from ketasim.pk.checks import PKCheck, load_checks, predict_check
from ketasim.regimens import Dose

GRID_H = np.arange(0.0, 96.0 + 1e-9, 1.0 / 60.0)


def _auc(times: np.ndarray, conc: np.ndarray, until_h: float) -> float:
    keep = times <= until_h + 1e-12
    return compute_nca(times[keep], conc[keep]).auc_0_t_ng_h_ml


def test_end_of_infusion_ketamine_is_185_ng_ml() -> None:
    """Zarate 2006 via Zanos 2018 Pharmacol Rev Table 1: 185 ng/mL at the end of
    0.5 mg/kg over 40 min (70 kg). Tolerance ±10% (between-study spread of venous peaks)."""
    res = load_model("racemic_ketamine").simulate([Dose(amount_mg_per_kg=0.5, duration_h=40 / 60)], [40 / 60])
    value = float(res.concentrations_ng_ml["ketamine"][0, 0])
    assert value == pytest.approx(185.0, rel=0.10)


# Perez-Ruixo 2021 Table 4: typical Caucasian 18-60 y (Cmax ng/mL, AUC0-24 ng·h/mL)
TABLE_4 = {
    28: {"esketamine": (43.8, 147.3), "noresketamine": (59.1, 274.4)},
    56: {"esketamine": (72.5, 254.7), "noresketamine": (119.7, 516.3)},
    84: {"esketamine": (101.0, 362.2), "noresketamine": (180.0, 758.0)},
}


def _nasal(dose_mg: int) -> dict[str, np.ndarray]:
    res = load_model("esketamine").simulate([Dose(amount_mg=dose_mg, route="intranasal")], GRID_H)
    return {a: res.concentrations_ng_ml[a][0] for a in res.analytes}


@pytest.mark.parametrize("dose_mg", [28, 56, 84])
def test_perez_ruixo_table_4_esketamine(dose_mg: int) -> None:
    """Esketamine Cmax and AUC0-24 within 5% of Table 4 (model-predicted typical values)."""
    conc = _nasal(dose_mg)["esketamine"]
    cmax, auc = TABLE_4[dose_mg]["esketamine"]
    assert float(conc.max()) == pytest.approx(cmax, rel=0.05)
    assert _auc(GRID_H, conc, 24.0) == pytest.approx(auc, rel=0.05)


@pytest.mark.parametrize("dose_mg", [28, 56, 84])
def test_perez_ruixo_table_4_noresketamine_cmax(dose_mg: int) -> None:
    """Noresketamine Cmax within 5% of Table 4."""
    conc = _nasal(dose_mg)["noresketamine"]
    assert float(conc.max()) == pytest.approx(TABLE_4[dose_mg]["noresketamine"][0], rel=0.05)


@pytest.mark.parametrize("dose_mg", [28, 56, 84])
def test_perez_ruixo_table_4_noresketamine_auc(dose_mg: int) -> None:
    """Noresketamine AUC0-24 within 10% of Table 4: in sample since 2026-12-04, when Vcn and CLn
    were refit to these values (docs/fit_noresketamine.py); Table 3's literal values gave
    1.41-1.46x (also documented by nlmixr2lib)."""
    conc = _nasal(dose_mg)["noresketamine"]
    assert _auc(GRID_H, conc, 24.0) == pytest.approx(TABLE_4[dose_mg]["noresketamine"][1], rel=0.10)


def _absolute_f(drug: str, route: str, dose_mg: float) -> float:
    """AUC0-∞(route)/AUC0-∞(IV) of the parent, dose-normalised (IV reference = 10 mg/40 min)."""
    model = load_model(drug)
    grid = np.arange(0, 200.0, 1 / 30)
    ref = model.simulate([Dose(amount_mg=10, duration_h=40 / 60)], grid)
    test = model.simulate([Dose(amount_mg=dose_mg, route=route)], grid)  # type: ignore[arg-type]
    parent = model.analytes[0]
    auc_ref = compute_nca(grid, ref.concentrations_ng_ml[parent][0]).auc_0_inf_ng_h_ml / 10
    auc_test = compute_nca(grid, test.concentrations_ng_ml[parent][0]).auc_0_inf_ng_h_ml / dose_mg
    return auc_test / auc_ref


@pytest.mark.parametrize(
    ("drug", "route", "dose_mg", "published_f", "tolerance"),
    [
        ("racemic_ketamine", "im", 30, 0.93, 0.02),  # Clements 1982 (secondary)
        ("racemic_ketamine", "oral", 50, 0.20, 0.02),  # Yanagihara 2003; Andrade 2019 20-25%
        ("racemic_ketamine", "sublingual", 25, 0.29, 0.02),  # Rolan 2014 (90% CI 0.27-0.31)
        ("racemic_ketamine", "intranasal", 25, 0.45, 0.02),  # Yanagihara 2003
        ("esketamine", "intranasal", 56, 0.54, 0.03),  # Perez-Ruixo 2021 abstract
        ("esketamine", "intranasal", 84, 0.51, 0.03),  # Perez-Ruixo 2021 abstract
    ],
)
def test_bioavailability_by_route(drug: str, route: str, dose_mg: float, published_f: float, tolerance: float) -> None:
    """Absolute bioavailability recovered from simulated AUCs (absolute tolerance stated)."""
    assert _absolute_f(drug, route, dose_mg) == pytest.approx(published_f, abs=tolerance)


@pytest.mark.xfail(
    strict=True,
    reason="Known miss: Perez-Ruixo 2021 oral route gives Fgut·(1−E) = 0.64 × 0.28 ≈ 0.18, "
    "against ~8% in J&J medical information and Fanta 2015 (oral S-ketamine).",
)
def test_esketamine_oral_bioavailability() -> None:
    assert _absolute_f("esketamine", "oral", 84) == pytest.approx(0.08, abs=0.03)


def _terminal_half_life(drug: str, dose: Dose, analyte: str) -> float:
    res = load_model(drug).simulate([dose], GRID_H)
    return compute_nca(GRID_H, res.concentrations_ng_ml[analyte][0]).half_life_h


def test_racemic_ketamine_terminal_half_life_in_published_range() -> None:
    """2.3-3 h (textbook, secondary) up to 5.2-6.1 h (enantiomer-resolved, long sampling,
    Anesthesiology 2021;135:326): the model must fall in 2.3-6.1 h."""
    t_half = _terminal_half_life("racemic_ketamine", Dose(amount_mg_per_kg=0.5, duration_h=40 / 60), "ketamine")
    assert 2.3 <= t_half <= 6.1


def test_esketamine_terminal_half_life_in_label_range() -> None:
    """Spravato: terminal half-life 7-12 h after nasal dosing (J&J medical information)."""
    t_half = _terminal_half_life("esketamine", Dose(amount_mg=56, route="intranasal"), "esketamine")
    assert 7.0 <= t_half <= 12.0


def test_esketamine_tmax_in_label_range() -> None:
    """Spravato: Tmax 20-40 min after the last spray (J&J medical information, Swiss FI)."""
    for dose_mg, last_device_h in ((28, 0.0), (56, 5 / 60), (84, 10 / 60)):
        conc = _nasal(dose_mg)["esketamine"]
        t_after_last = GRID_H[int(np.argmax(conc))] - last_device_h
        assert 20 / 60 - 1e-9 <= t_after_last <= 40 / 60 + 1e-9, (dose_mg, t_after_last)


@pytest.mark.parametrize("name", ["clements_1981", "domino_1982"])
def test_sex_does_not_change_racemic_exposure(name: str) -> None:
    """Kamp 2020 (14 pooled datasets): no covariate effects; Wang 2019: no sex effect. Men and
    women of the same weight and age have the same ketamine and norketamine exposure."""
    model = load_model(name)
    cov = Covariates(weight_kg=np.array([70.0, 70.0]), age_years=np.array([40.0, 40.0]), female=np.array([False, True]))
    res = model.simulate([Dose(amount_mg=35, duration_h=40 / 60)], GRID_H, cov)
    for analyte in ("ketamine", "norketamine"):
        conc = res.concentrations_ng_ml[analyte]
        np.testing.assert_allclose(conc[0], conc[1], rtol=1e-12)


KNOWN_PK_MISSES = {
    "pk-13": "Perez-Ruixo's oral route gives Fgut(1-E) ~0.18 against 8% oral S-ketamine",
    "pk-23": "fitted to Chong 2006 (oral 12.1 ng.h/mL per mg); Yanagihara 2003 (n = 3) reports ~20 per mg",
}


@pytest.mark.parametrize(
    "check",
    [
        pytest.param(c, id=c.id, marks=pytest.mark.xfail(strict=True, reason=KNOWN_PK_MISSES[c.id]))
        if c.id in KNOWN_PK_MISSES
        else pytest.param(c, id=c.id)
        for c in load_checks()
    ],
)
def test_packaged_pk_check(check: PKCheck) -> None:
    """Every packaged PK check (data/pk/checks.yaml) within its stated tolerance."""
    assert check.passes(predict_check(check)), (check.id, check.observed, predict_check(check))


def test_age_above_60_lowers_hepatic_flow_esketamine() -> None:
    """Perez-Ruixo 2021: Qh −2.19 L/h per year above 60 → higher exposure at 80 than at 40."""
    model = load_model("esketamine")
    cov = Covariates(
        weight_kg=np.array([70.0, 70.0]), age_years=np.array([40.0, 80.0]), female=np.array([False, False])
    )
    res = model.simulate([Dose(amount_mg=56, route="intranasal")], GRID_H, cov)
    auc = [compute_nca(GRID_H, res.concentrations_ng_ml["esketamine"][i]).auc_0_inf_ng_h_ml for i in range(2)]
    assert auc[1] > auc[0] * 1.05
    assert math.isfinite(auc[0])


@pytest.mark.parametrize("drug", ["racemic_ketamine", "esketamine"])
def test_clearance_metric_is_the_models_structural_clearance(drug: str) -> None:
    """The ``clearance`` metric (dose/AUC0-inf from the simulated profile) equals the clearance
    written in the model: CL for Clements 1981; for Perez-Ruixo 2021 the well-stirred liver,
    Qh·k·Vh/(Qh + k·Vh) with k = kel + kmet (an oracle that uses no simulation)."""
    p = {k: float(v[0]) for k, v in load_model(drug).linear_system(Covariates.one()).params.items()}
    if drug == "esketamine":
        intrinsic = (p["kel_per_h"] + p["kmet_per_h"]) * p["Vh_L"]
        expected = p["Qh_L_h"] * intrinsic / (p["Qh_L_h"] + intrinsic)
    else:
        expected = p["CL_L_h"]
    check = PKCheck(
        id="oracle",
        source="model",
        drug=drug,
        dose=Dose(amount_mg_per_kg=0.25, duration_h=0.5),
        analyte=load_model(drug).analytes[0],
        metric="clearance",
        observed=expected,
        rel_tol=1e-3,
    )
    assert predict_check(check) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize(("field", "value"), [("observed", True), ("fold", True), ("at_h", "1"), ("range", [0, False])])
def test_a_pk_check_field_of_the_wrong_kind_is_refused_naming_it(field: str, value: object) -> None:
    """A boolean or a string is never read as a number in the PK checks file."""
    from pydantic import ValidationError

    base = load_checks()[0].model_dump()
    assert PKCheck.model_validate(base).observed == base["observed"]
    with pytest.raises(ValidationError, match=field):
        PKCheck.model_validate({**base, field: value})
