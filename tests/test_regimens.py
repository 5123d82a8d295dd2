"""Dose records: validation and NONMEM-style expansion."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ketasim.pk import DoseError, load_model
from ketasim.regimens import Dose, expand


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"amount_mg": -1}, "amount_mg"),
        ({"amount_mg": 0}, "amount_mg"),
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
    """84 mg = three 28-mg devices at 0, 5 and 10 min; the 2nd and 3rd absorbed × 0.62."""
    model = load_model("esketamine")
    one = model.simulate([Dose(amount_mg=28, route="intranasal")], [1 / 60, 6 / 60, 11 / 60, 24.0])
    three = model.simulate([Dose(amount_mg=84, route="intranasal")], [1 / 60, 6 / 60, 11 / 60, 24.0])
    i = three.compartments.index("depot_nasal")
    # after 1 min only the first device has been given: identical to a 28 mg session
    assert three.amounts_mg[0, 0, i] == pytest.approx(one.amounts_mg[0, 0, i])
    assert three.amounts_mg[0, 1, i] > one.amounts_mg[0, 1, i]


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
