"""The arterial front end (Henthorn 2018): arterial = venous + IV rate / cardiac output, and the
effect site follows arterial blood.  Oracles in closed form: the front end only adds a forcing
to the effect site, so the difference it makes is a first-order filter of the infusion rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ketasim.covariates import Covariates
from ketasim.pk import PKModel, load_model, load_pk_file
from ketasim.pk._files import PKModelFile
from ketasim.regimens import Dose

TIMES_H = np.linspace(0.0, 6.0, 721)


def _venous_only(model: PKModel) -> PKModel:
    return PKModel(model.spec.model_copy(update={"cardiac_output": None}))


@settings(max_examples=25, deadline=None)
@given(
    drug=st.sampled_from(["racemic_ketamine", "esketamine"]),
    start_min=st.integers(0, 120),
    duration_min=st.integers(1, 120),
    per_kg=st.floats(0.05, 1.0),
    weight=st.floats(45.0, 150.0),
)
def test_front_end_adds_rate_over_cardiac_output_to_arterial_blood_and_filters_it_into_the_effect_site(
    drug: str, start_min: int, duration_min: int, per_kg: float, weight: float
) -> None:
    model = load_model(drug)
    cov = Covariates.one(weight)
    dose = Dose(time_h=start_min / 60, amount_mg_per_kg=per_kg, duration_h=duration_min / 60)
    with_front = model.simulate([dose], TIMES_H, cov, check=False)
    venous = _venous_only(model).simulate([dose], TIMES_H, cov, check=False)
    parent = model.analytes[0]
    p = model.linear_system(cov).params
    q_co_l_h = float(p[model.spec.cardiac_output or ""][0])
    assert q_co_l_h == pytest.approx(455.4 * (weight / 70.0) ** 0.75)
    rate_ng_ml = 1000.0 * per_kg * weight / (duration_min / 60) / q_co_l_h
    start = start_min / 60
    end = start + duration_min / 60  # the dose record's end: time_h + duration_h
    running = (start < TIMES_H) & (end >= TIMES_H)
    # venous blood, and every metabolite, does not see the front end
    for a in model.analytes:
        np.testing.assert_allclose(with_front.concentrations_ng_ml[a], venous.concentrations_ng_ml[a], rtol=1e-9)
    np.testing.assert_allclose(
        with_front.arterial_ng_ml[parent][0] - venous.concentrations_ng_ml[parent][0], rate_ng_ml * running, atol=1e-9
    )
    # the effect site: Ce − Ce(venous only) = rate/Q·(1 − e^{−ke0·(t − start)}), then decays
    ke0 = math.log(2.0) / (model.spec.parameters["ke0_half_life_min"].value / 60.0)
    since = np.clip(TIMES_H - start, 0.0, end - start)
    expected = rate_ng_ml * -np.expm1(-ke0 * since) * np.exp(-ke0 * np.clip(TIMES_H - end, 0.0, None))
    got = with_front.effect_site_ng_ml[parent][0] - venous.effect_site_ng_ml[parent][0]
    np.testing.assert_allclose(got, expected, atol=1e-9 * max(1.0, rate_ng_ml))
    metabolite = model.analytes[1]
    np.testing.assert_allclose(
        with_front.effect_site_ng_ml[metabolite], venous.effect_site_ng_ml[metabolite], rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize(
    ("drug", "dose"),
    [
        ("esketamine", Dose(amount_mg=56, route="intranasal")),
        ("esketamine", Dose(amount_mg=84, route="oral")),
        ("racemic_ketamine", Dose(amount_mg=50, route="oral")),
        ("racemic_ketamine", Dose(amount_mg_per_kg=0.5, route="im")),
    ],
)
def test_a_dose_absorbed_from_a_depot_has_no_front_end(drug: str, dose: Dose) -> None:
    """Only input straight into the central compartment (IV) crosses the front end: an absorbed
    dose's arterial and effect-site values are the venous model's."""
    model = load_model(drug)
    r, v = model.simulate([dose], TIMES_H), _venous_only(model).simulate([dose], TIMES_H)
    for a in model.analytes:
        np.testing.assert_array_equal(r.arterial_ng_ml[a], r.concentrations_ng_ml[a])
        np.testing.assert_allclose(r.effect_site_ng_ml[a], v.effect_site_ng_ml[a], rtol=1e-12, atol=1e-15)


def test_a_file_whose_cardiac_output_is_not_a_parameter_is_refused() -> None:
    raw = load_pk_file("clements_1981").model_dump()
    with pytest.raises(ValidationError, match="cardiac_output 'Q_heart_L_h' is not one of the file's parameters"):
        PKModelFile.model_validate({**raw, "cardiac_output": "Q_heart_L_h"})
