"""Concentration-effect at a steady plasma concentration (target-controlled infusions):
the steady-state shortcut against the PK simulator it stands for, and its targets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketasim.errors import InputError
from ketasim.model.steady import steady_occupancy, steady_rises
from ketasim.params import default_parameters
from ketasim.pd.adverse import AdverseParameters, haemodynamics
from ketasim.pd.receptor import affinities_um, nmda_occupancy
from ketasim.pk import load_model
from ketasim.population import sample_population
from ketasim.regimens import Dose
from ketasim.trials.targets import Target, load_targets
from ketasim.trials.validation import Evaluator, predict

DRUGS = ("racemic_ketamine", "esketamine")


@pytest.mark.parametrize("drug", DRUGS)
def test_a_long_constant_infusion_reaches_the_steady_free_brain_concentrations(drug: str) -> None:
    """Oracle: the PK simulator itself.  After 24 h of a constant infusion, the parent's effect
    site equals its arterial concentration (above the venous one by the drug the tissues
    extract while the infusion runs), and the parent species' unbound brain concentrations
    equal the shortcut's at that concentration."""
    model = load_model(drug)
    dose = Dose(amount_mg=24 * 5.0, rate_mg_per_h=5.0)  # 5 mg/h for 24 h (0.07 mg/kg/h at 70 kg)
    r = model.simulate([dose], [23.9], check=False)
    parent = model.analytes[0]
    plasma = float(r.arterial_ng_ml[parent][0, 0])
    assert float(r.effect_site_ng_ml[parent][0, 0]) == pytest.approx(plasma, rel=0.01)
    shortcut = model.steady_free_brain_um(plasma)
    assert shortcut
    for species, value in shortcut.items():
        assert float(r.free_brain_um[species][0, 0]) == pytest.approx(value, rel=0.01)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(DRUGS), st.floats(1.0, 3000.0), st.floats(1.01, 3.0))  # within the allowed 10,000 ng/mL
def test_steady_occupancy_rises_with_concentration_below_one(drug: str, c: float, factor: float) -> None:
    p = default_parameters()
    low, high = steady_occupancy(drug, c, p), steady_occupancy(drug, c * factor, p)
    assert 0.0 < low < high < 1.0


def test_steady_rises_are_the_session_law_at_the_steady_occupancy() -> None:
    """The rises equal :func:`haemodynamics` at the steady occupancy for the typical patient
    (η = κ = 0), scaled per patient by e^(η+κ₁); MAP is (SBP + 2·DBP)/3."""
    p = default_parameters()
    gains = sample_population(50, 7, "trd", {"MADRS": 32.0}).gains(p)
    free = load_model("esketamine").steady_free_brain_um(300.0)
    occupancy = float(nmda_occupancy({k: np.asarray(v) for k, v in free.items()}, affinities_um(p)))
    typical = haemodynamics(np.array([[occupancy]]), AdverseParameters.from_params(p))
    rises = steady_rises("esketamine", 300.0, p, gains)
    factor = rises["sbp_rise_mmhg"] / typical["sbp_rise_mmhg"][0, 0]
    assert np.all(factor > 0) and np.std(np.log(factor)) > 0.1  # patients differ
    np.testing.assert_allclose(rises["dbp_rise_mmhg"], factor * typical["dbp_rise_mmhg"][0, 0])
    np.testing.assert_allclose(rises["map_rise_mmhg"], (rises["sbp_rise_mmhg"] + 2 * rises["dbp_rise_mmhg"]) / 3)


def test_every_concentration_effect_target_is_predicted() -> None:
    steady = [t for t in load_targets() if t.steady_state is not None]
    assert len(steady) >= 2
    ev = Evaluator(n=100)
    for t in steady:
        value, reason = predict(t, ev)
        assert reason is None and value is not None and value > 0.0, t.id


def _target(**changes: object) -> dict[str, object]:
    base = next(t for t in load_targets() if t.steady_state is not None)
    return {**base.model_dump(exclude_none=True), **changes}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"endpoint": "peak_time_h"}, "steady_state is for the mean_change"),
        ({"scale": "CADSS"}, "steady_state is for the mean_change"),
        ({"steady_state": None}, "scale MAP is read at a steady concentration"),
        ({"steady_state": {"drug": "esketamine", "plasma_ng_ml": 0.0}}, "greater than 0"),
        ({"steady_state": {"drug": "esketamine", "plasma_ng_ml": float("nan")}}, "plasma_ng_ml"),
        ({"steady_state": {"drug": "esketamine", "plasma_ng_ml": True}}, "plasma_ng_ml"),
        ({"steady_state": {"drug": "ketamine", "plasma_ng_ml": 100.0}}, "drug"),
    ],
)
def test_a_malformed_concentration_effect_target_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Target.model_validate(_target(**changes))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), True, 20_000.0, "100"])
def test_a_bad_steady_concentration_is_refused_naming_the_field(bad: object) -> None:
    with pytest.raises(InputError, match="parent_plasma_ng_ml"):
        steady_occupancy("esketamine", bad, default_parameters())  # type: ignore[arg-type]


def test_an_unknown_drug_is_refused() -> None:
    with pytest.raises(InputError, match="drug"):
        steady_occupancy("ketamine-ish", 100.0, default_parameters())
