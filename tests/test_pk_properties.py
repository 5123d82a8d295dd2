"""Invariants of the PK solution, checked on generated patients and regimens (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketasim.covariates import Covariates
from ketasim.pk import PKModel, load_model, load_pk_file, sample_etas
from ketasim.regimens import MIN_AMOUNT_MG, Dose

TIMES_H = np.linspace(0.0, 48.0, 193)
MODELS = {name: load_model(name) for name in ("clements_1981", "domino_1982", "perez_ruixo_2021")}


@st.composite
def regimens(draw: st.DrawFn) -> tuple[PKModel, list[Dose]]:
    name = draw(st.sampled_from(sorted(MODELS)))
    model = MODELS[name]
    doses = []
    for _ in range(draw(st.integers(1, 4))):
        route = draw(st.sampled_from(model.routes))
        time_h = draw(st.integers(0, 24 * 12)) / 12
        if route == "intranasal" and model.drug == "esketamine":
            doses.append(Dose(time_h=time_h, amount_mg=draw(st.sampled_from([28, 56, 84])), route=route))
        elif route == "iv":
            doses.append(
                Dose(time_h=time_h, amount_mg=draw(st.floats(1, 80)), duration_h=draw(st.integers(1, 120)) / 60)
            )
        else:
            doses.append(Dose(time_h=time_h, amount_mg=draw(st.floats(1, 80)), route=route))
    return model, doses


@st.composite
def patients(draw: st.DrawFn, model_name: str) -> tuple[Covariates, dict[str, np.ndarray]]:
    n = draw(st.integers(1, 4))
    cov = Covariates(
        weight_kg=np.array([draw(st.floats(30, 250)) for _ in range(n)]),
        age_years=np.array([draw(st.floats(18, 100)) for _ in range(n)]),
        female=np.array([draw(st.booleans()) for _ in range(n)]),
    )
    seed = draw(st.integers(0, 2**31 - 1))
    etas = sample_etas(load_pk_file(model_name), n, np.random.default_rng(seed))
    return cov, etas


def _all_index(model: PKModel, cov: Covariates) -> dict[str, int]:
    """Every state: the mass compartments, then the effect sites (mg/L, which hold no mass)."""
    return {c: i for i, c in enumerate(model.linear_system(cov).states)}


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_mass_balance(data: st.DataObject) -> None:
    """Amounts in the body + eliminated + lost pre-systemically = dose × F delivered so far."""
    model, doses = data.draw(regimens())
    cov, etas = data.draw(patients(model.spec.name))
    # mass balance must hold for every individual parameter set, so use the etas too
    res = model.simulate(doses, TIMES_H, cov, etas, check=False)
    total = res.amounts_mg.sum(axis=2)
    delivered = _delivered_mg_etas(model, doses, cov, etas, TIMES_H)
    np.testing.assert_allclose(total, delivered, rtol=1e-7, atol=1e-9 * max(1.0, float(delivered.max())))


def _delivered_mg_etas(
    model: PKModel, doses: list[Dose], cov: Covariates, etas: dict[str, np.ndarray], times: np.ndarray
) -> np.ndarray:
    from ketasim.pk._individual import individual_parameters

    params = individual_parameters(model.spec, cov, etas)
    index = _all_index(model, cov)
    inputs = model._inputs(doses, params, cov, index)
    mass = np.array([not name.startswith("effect_") for name in index])[inputs.compartment]  # not the front end's
    elapsed = times[None, None, :] - inputs.start_h[:, :, None]
    dur = inputs.duration_h[:, :, None]
    frac = np.where(dur > 0, np.clip(elapsed / np.where(dur > 0, dur, 1), 0, 1), (elapsed >= 0).astype(float))
    return np.sum((inputs.amount_mg * mass)[:, :, None] * frac, axis=1)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), factor=st.floats(0.1, 3.0))
def test_linear_in_dose(data: st.DataObject, factor: float) -> None:
    """Scaling every non-nasal dose scales every concentration by the same factor."""
    model, doses = data.draw(regimens())
    doses = [d for d in doses if d.route != "intranasal" or model.drug != "esketamine"]
    if not doses:
        return
    scaled = [d.model_copy(update={"amount_mg": float(d.amount_mg or 0) * factor}) for d in doses]
    base = model.simulate(doses, TIMES_H, check=False)
    more = model.simulate(scaled, TIMES_H, check=False)
    for a in model.analytes:
        np.testing.assert_allclose(
            more.concentrations_ng_ml[a], factor * base.concentrations_ng_ml[a], rtol=1e-9, atol=1e-12
        )


@settings(max_examples=30, deadline=None)
@given(data=st.data(), tiny_mg=st.floats(MIN_AMOUNT_MG, 0.01))
def test_linear_down_to_the_least_amount_taken(data: st.DataObject, tiny_mg: float) -> None:
    """Every dose at the least amount a record takes (1 µg) or a little above still gives
    finite, non-negative concentrations, linear in dose (no underflow, no round-off sign)."""
    model, doses = data.draw(regimens())
    doses = [d for d in doses if d.route != "intranasal" or model.drug != "esketamine"]
    if not doses:
        return
    tiny = [Dose.model_validate(d.model_dump() | {"amount_mg": tiny_mg}) for d in doses]
    unit = [Dose.model_validate(d.model_dump() | {"amount_mg": 1.0}) for d in doses]
    low = model.simulate(tiny, TIMES_H, check=False)
    base = model.simulate(unit, TIMES_H, check=False)
    for a in model.analytes:
        c = low.concentrations_ng_ml[a]
        assert np.all(np.isfinite(c)) and np.all(c >= 0.0)
        np.testing.assert_allclose(c, tiny_mg * base.concentrations_ng_ml[a], rtol=1e-9, atol=1e-12 * float(c.max()))


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_non_negative(data: st.DataObject) -> None:
    """No concentration or amount is negative (beyond rounding, 1e-9 of the peak)."""
    model, doses = data.draw(regimens())
    cov, etas = data.draw(patients(model.spec.name))
    res = model.simulate(doses, TIMES_H, cov, etas, check=False)
    floor = -1e-9 * max(1.0, float(np.max(res.amounts_mg)))
    assert np.all(res.amounts_mg >= floor)
    for a in model.analytes:
        assert np.all(res.concentrations_ng_ml[a] >= -1e-9 * max(1.0, float(res.concentrations_ng_ml[a].max())))
    for s, v in res.free_brain_um.items():
        assert np.all(v >= -1e-9 * max(1.0, float(v.max()))), s


@settings(max_examples=30, deadline=None)
@given(data=st.data(), shift_h=st.integers(1, 48).map(lambda k: k / 4))
def test_time_shift_invariance(data: st.DataObject, shift_h: float) -> None:
    """Giving the whole regimen later shifts the profile by the same time."""
    model, doses = data.draw(regimens())
    shifted = [d.model_copy(update={"time_h": d.time_h + shift_h}) for d in doses]
    base = model.simulate(doses, TIMES_H, check=False)
    later = model.simulate(shifted, TIMES_H + shift_h, check=False)
    np.testing.assert_allclose(later.amounts_mg, base.amounts_mg, rtol=1e-8, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(low=st.floats(0.1, 2.0), extra=st.floats(0.01, 2.0), weight=st.floats(30, 250))
def test_more_iv_dose_never_less_brain_exposure(low: float, extra: float, weight: float) -> None:
    """Monotone dose response: a bigger IV dose gives at least as much free brain drug."""
    model = MODELS["clements_1981"]
    cov = Covariates.one(weight_kg=weight)
    a = model.simulate([Dose(amount_mg_per_kg=low, duration_h=40 / 60)], TIMES_H, cov)
    b = model.simulate([Dose(amount_mg_per_kg=low + extra, duration_h=40 / 60)], TIMES_H, cov)
    for s in a.free_brain_um:
        assert np.all(b.free_brain_um[s] >= a.free_brain_um[s] - 1e-12)


def _without(model: PKModel, names: tuple[str, ...]) -> PKModel:
    params = {k: v for k, v in model.spec.parameters.items() if k not in names}
    return PKModel(model.spec.model_copy(update={"parameters": params}))


def test_each_first_pass_delay_is_optional_and_only_delays() -> None:
    """The gut-to-liver and formation delays of first-pass norketamine (Simons 2022) each work
    alone: mass is conserved, the oral norketamine AUC to 48 h barely moves (a delay moves
    mass, it does not remove it), and each delay added moves the peak later."""
    base = MODELS["clements_1981"]
    dose = [Dose(amount_mg=25.0, route="oral")]
    t = np.linspace(0.0, 48.0, 48 * 60 + 1)
    tmax, auc = {}, {}
    for drop in ((), ("mtt_gut_liver_min",), ("mtt_formation_min",), ("mtt_gut_liver_min", "mtt_formation_min")):
        model = _without(base, drop)
        res = model.simulate(dose, t, check=False)
        np.testing.assert_allclose(res.amounts_mg.sum(axis=2)[0, -1], 25.0, rtol=1e-7)
        c = res.concentrations_ng_ml["norketamine"][0]
        tmax[drop], auc[drop] = float(t[np.argmax(c)]), float(np.trapezoid(c, t))
    none = ("mtt_gut_liver_min", "mtt_formation_min")
    for one in (("mtt_gut_liver_min",), ("mtt_formation_min",)):
        assert tmax[none] < tmax[one] < tmax[()]
        assert auc[one] == pytest.approx(auc[()], rel=0.02)
