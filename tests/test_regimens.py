"""Dose records: validation and NONMEM-style expansion."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ketasim.covariates import Covariates
from ketasim.errors import DoseError
from ketasim.pk import load_model
from ketasim.regimens import Dose, expand


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"amount_mg": -1}, "amount_mg"),
        ({"amount_mg": 0}, "amount_mg"),
        ({"amount_mg": 1e-320}, "amount_mg"),  # denormal: its concentrations would underflow
        ({"amount_mg_per_kg": 5e-324}, "amount_mg_per_kg"),
        ({"amount_mg": 10, "duration_h": -1}, "duration_h"),
        ({"amount_mg": 10, "time_h": -2}, "time_h"),
        ({"amount_mg": 10, "route": "rectal"}, "route"),
        ({"amount_mg": 10, "bioavailability": 1.5}, "bioavailability"),
        ({"amount_mg": 10, "colour": "red"}, "colour"),
    ],
)
def test_invalid_fields_are_named(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        Dose(**kwargs)  # type: ignore[arg-type]
    assert field in str(err.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"amount_mg": 10, "amount_mg_per_kg": 0.5},
        {"amount_mg": 10, "duration_h": 1, "rate_mg_per_h": 10},
        {"amount_mg": 10, "additional": 3},
    ],
)
def test_inconsistent_records_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Dose(**kwargs)  # type: ignore[arg-type]


@given(n=st.integers(0, 20), interval=st.floats(0.5, 48), start=st.floats(0, 100))
def test_repeats_expand_to_evenly_spaced_doses(n: int, interval: float, start: float) -> None:
    singles = expand([Dose(time_h=start, amount_mg=10, interval_h=interval, additional=n)])
    assert len(singles) == n + 1
    assert all(abs(b.time_h - a.time_h - interval) < 1e-9 for a, b in itertools.pairwise(singles))
    assert all(d.additional == 0 for d in singles)


def test_rate_defined_infusion_duration() -> None:
    """RATE given: duration = F·AMT/RATE (NONMEM)."""
    model = load_model("racemic_ketamine")
    by_rate = model.simulate([Dose(amount_mg=30, rate_mg_per_h=45)], [0.5, 1.0, 2.0])
    by_duration = model.simulate([Dose(amount_mg=30, duration_h=30 / 45)], [0.5, 1.0, 2.0])
    assert by_rate.amounts_mg == pytest.approx(by_duration.amounts_mg)


def test_nasal_session_is_made_of_devices_five_minutes_apart() -> None:
    """84 mg = three 28-mg devices at 0, 5 and 10 min; of each, FRn = 0.54 is absorbed nasally,
    × 0.62 for the 2nd and 3rd device; the rest is swallowed, of which Fgut = 0.64 escapes gut
    metabolism (Perez-Ruixo 2021 Table 3)."""
    model = load_model("esketamine")
    system = model.linear_system(Covariates.one())
    inputs = model.dose_inputs([Dose(amount_mg=84, route="intranasal")], system)
    nasal = inputs.compartment == system.states.index("depot_nasal")
    swallowed = inputs.compartment == system.states.index("depot_swallowed")
    fr1, fr2 = 0.54, 0.54 * 0.62
    assert inputs.start_h[0, nasal] == pytest.approx([0.0, 5 / 60, 10 / 60])
    assert inputs.amount_mg[0, nasal] == pytest.approx([28 * fr1, 28 * fr2, 28 * fr2])
    fgut = 0.64
    assert inputs.amount_mg[0, swallowed] == pytest.approx([28 * (1 - f) * fgut for f in (fr1, fr2, fr2)])
    one = model.simulate([Dose(amount_mg=28, route="intranasal")], [1 / 60, 6 / 60])
    three = model.simulate([Dose(amount_mg=84, route="intranasal")], [1 / 60, 6 / 60])
    i = three.compartments.index("depot_nasal")
    # after 1 min only the first device has been given: identical to a 28 mg session
    assert three.amounts_mg[0, 0, i] == pytest.approx(one.amounts_mg[0, 0, i])
    assert three.amounts_mg[0, 1, i] > one.amounts_mg[0, 1, i]


@pytest.mark.parametrize(
    ("dose", "field"),
    [
        (Dose(amount_mg=50, route="intranasal"), "amount_mg"),
        (Dose(amount_mg=1, route="intranasal"), "amount_mg"),
        (Dose(amount_mg=112, route="intranasal"), "amount_mg"),
        (Dose(amount_mg_per_kg=1, route="intranasal"), "amount_mg_per_kg"),
    ],
)
def test_the_python_api_refuses_nasal_sessions_other_than_whole_devices(dose: Dose, field: str) -> None:
    """No rounding to devices: 50 mg is not silently 56 mg, 1 mg not zero, mg/kg not a fixed dose."""
    model = load_model("esketamine")
    for weight in (40.0, 120.0):
        with pytest.raises(DoseError) as err:
            model.simulate([dose], [1.0], Covariates.one(weight_kg=weight))
        assert err.value.field == field
        assert "28" in str(err.value)


def test_esketamine_70_year_old_dose_bounds() -> None:
    model = load_model("esketamine")
    model.check_dose(Dose(amount_mg=28, route="intranasal"), 70)
    with pytest.raises(DoseError) as err:
        model.check_dose(Dose(amount_mg=112, route="intranasal"), 70)
    assert err.value.field == "amount_mg"


def test_iv_bolus_faster_than_one_minute_is_refused() -> None:
    with pytest.raises(DoseError) as err:
        load_model("racemic_ketamine").check_dose(Dose(amount_mg=35, duration_h=0), 70)
    assert err.value.field == "duration_h"
