"""Honest validation: folds by study, refits without each fold, Wald intervals of the fitted
values (checked against statsmodels), the three figures of `ketasim validate`, and the
options refused."""

from __future__ import annotations

import json
import math
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import statsmodels.api as sm
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from scipy import stats

from ketasim.errors import ParameterError
from ketasim.params import FreeParameter, default_parameters, load_parameters
from ketasim.pk.checks import PKCheck, load_checks, pk_checks
from ketasim.trials.calibration import (
    DIFF_STEP,
    CalibrationError,
    FoldStart,
    assign_folds,
    calibrate,
    fd_steps,
    fittable,
    fixed_folds,
    fold_start_values,
    forward_jacobian,
    informed,
    packaged_fold_starts,
    parameter_fits,
    source_key,
    stage,
    start_points,
)
from ketasim.trials.targets import Target, load_targets
from ketasim.trials.validation import Evaluator, cross_validate, predict

KETASIM = [str(Path(sys.executable).with_name("ketasim"))]  # the installed console script, a real process


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KETASIM, *args], capture_output=True, text=True, timeout=600)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(2, 20), seed=st.integers(0, 10_000))
def test_folds_partition_the_sources_whatever_the_order(k: int, seed: int) -> None:
    targets = fittable(load_targets())
    folds = assign_folds(targets, k)
    shuffled = list(targets)
    random.Random(seed).shuffle(shuffled)
    assert assign_folds(shuffled, k) == folds  # fixed: independent of the file's order
    sources = [s for f in folds for s in f]
    assert sorted(sources) == sorted({source_key(t) for t in targets})  # every study in exactly one fold
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1


def test_the_packaged_folds_list_every_study_and_are_those_of_the_packaged_calibration() -> None:
    """data/folds.yaml lists every study of the targets file, each once, in balanced folds, and
    the packaged calibrated.yaml was fitted on exactly these folds."""
    folds = fixed_folds()
    listed = [s for f in folds for s in f]
    assert sorted(listed) == sorted({source_key(t) for t in fittable(load_targets())})
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    packaged = yaml.safe_load((Path(__file__).parents[1] / "src/ketasim/data/calibrated.yaml").read_text())
    assert [sorted(f["sources"]) for f in packaged["cross_validation"]] == [sorted(f) for f in folds]


SHARED_PATIENTS = {
    # the label's short-term pool (N = 346 + 222) is TRANSFORM-1 and -2; its >= 65 rows are TRANSFORM-3
    "esketamine phase-3 safety pool (label and Janssen medical information)": (
        "TRANSFORM-1/2",
        "Ochs-Ross et al. 2020",
    ),
}


def test_studies_sharing_patients_across_folds_share_no_fitted_information() -> None:
    """The esketamine safety pool (fold 4) reports the side effects of TRANSFORM-1/2's and
    TRANSFORM-3's patients (folds 3 and 2), whose efficacy targets are elsewhere.  That is no
    leak only while the two stages are disjoint: every efficacy-stage parameter moved at once
    leaves each side-effect prediction unchanged, and every side-effect parameter moved at
    once leaves each efficacy prediction of those trials unchanged (and each study's targets
    are of one stage)."""
    p = default_parameters()
    folds = {s: i for i, fold in enumerate(fixed_folds()) for s in fold}
    by_study: dict[str, list[Target]] = {}
    for t in load_targets():
        by_study.setdefault(source_key(t), []).append(t)
    for pool, trials in SHARED_PATIENTS.items():
        assert all(folds[pool] != folds[trial] for trial in trials)
        side = [t for t in by_study[pool] if t.addressable]
        eff = [t for trial in trials for t in by_study[trial] if t.addressable]
        assert {t.family for t in side} == {"adverse"} and "adverse" not in {t.family for t in eff}
        before = {id(t): predict(t, Evaluator(n=20, params=p))[0] for t in side + eff}
        for moved_stage, readers, own in (("efficacy", side, eff), ("adverse", eff, side)):
            moved = p.replace({f.name: p[f.name] * 1.3 + 0.01 for f in stage(moved_stage)})
            after = {id(t): predict(t, Evaluator(n=20, params=moved))[0] for t in side + eff}
            assert all(after[id(t)] == before[id(t)] for t in readers), moved_stage
            assert any(after[id(t)] != before[id(t)] for t in own), moved_stage  # the move is felt where it should be


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.text(st.characters(categories=("L", "N")), min_size=3, max_size=12), min_size=1, max_size=8, unique=True
    )
)
@example(["000"])  # sorts before the two Långsjö studies: moved them while the file did not list them
def test_adding_studies_moves_none_already_dealt(names: list[str]) -> None:
    targets = fittable(load_targets())
    before = assign_folds(targets, len(fixed_folds()))
    template = targets[0]
    added = [template.model_copy(update={"source": f"New study {n}", "study": None}) for n in names]
    after = assign_folds([*targets, *added], len(before))
    assert all(set(b) <= set(a) for b, a in zip(before, after, strict=True))
    assert sorted(s for f in after for s in f) == sorted({source_key(t) for t in [*targets, *added]})
    sizes = [len(f) for f in after]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("k", [0, 1, 21, True, 2.5])
def test_fold_counts_outside_the_range_are_refused(k: object) -> None:
    with pytest.raises(CalibrationError, match="folds"):
        assign_folds(load_targets(), k)  # type: ignore[arg-type]


def test_more_folds_than_sources_is_refused() -> None:
    two_sources = [t for t in load_targets() if source_key(t) in ("Berman et al. 2000", "Zarate et al. 2006")]
    with pytest.raises(CalibrationError, match="at least 3 sources"):
        assign_folds(two_sources, 3)


def test_wald_intervals_match_statsmodels_ols() -> None:
    """A linear least-squares problem: the Jacobian is the design matrix, and the intervals
    must equal OLS's (z-based, as statsmodels with use_t=False)."""
    rng = np.random.default_rng(4)
    x = np.column_stack([np.ones(400), rng.normal(size=400)])
    y = x @ np.array([1.5, -0.7]) + rng.normal(scale=0.3, size=400)
    fit = sm.OLS(y, x).fit(use_t=False)
    residuals = y - x @ fit.params
    free = [
        FreeParameter(name=n, unit="1", stage="efficacy", start=0, low=-100, high=100, log=False, meaning="test")
        for n in ("a", "b")
    ]
    ours = parameter_fits(free, fit.params, x, 0.5 * float(residuals @ residuals))
    for name, (lo, hi) in zip(("a", "b"), fit.conf_int(alpha=0.05), strict=True):
        assert ours[name].ci95 is not None
        assert ours[name].ci95 == pytest.approx((lo, hi), rel=2e-3, abs=1e-3)
        assert ours[name].status == "identified"


def test_a_parameter_the_targets_do_not_move_is_not_identifiable() -> None:
    free = [
        FreeParameter(name=n, unit="1", stage="efficacy", start=1, low=0.01, high=100, meaning="test")
        for n in ("moves", "idle")
    ]
    jac = np.column_stack([np.linspace(1, 2, 30), np.zeros(30)])
    fits = parameter_fits(free, np.log([1.0, 1.0]), jac, 3.0)
    assert fits["idle"].status == "not_identifiable"
    at_bound = parameter_fits(free, np.log([100.0, 1.0]), np.column_stack([np.ones(30), np.ones(30)]), 3.0)
    assert at_bound["moves"].status == "at_bound"
    # a column that barely moves the residuals: an interval past exp()'s range is reported, not raised
    flat = parameter_fits(free, np.log([1.0, 1.0]), np.column_stack([np.linspace(1, 2, 30), np.full(30, 1e-7)]), 3.0)
    assert flat["idle"].ci95 is None and flat["idle"].status == "not_identifiable"


@pytest.mark.slow
def test_calibrate_with_folds_then_validate_predicts_each_fold_out_of_sample(tmp_path: Path) -> None:
    ids = "1,2,3,4,5,6,109a,109c"
    out = tmp_path / "cv.yaml"
    done = _run("calibrate", "--out", str(out), "--n", "50", "--max-evaluations", "1", "--targets", ids, "--folds", "2")
    assert done.returncode == 0, done.stderr
    serial = tmp_path / "serial.yaml"  # the same fit with the fold refits in one process, one after the other
    args = ["--n", "50", "--max-evaluations", "1", "--targets", ids, "--folds", "2", "--jobs", "1"]
    assert _run("calibrate", "--out", str(serial), *args).returncode == 0
    first, second = (yaml.safe_load(f.read_text()) for f in (out, serial))
    assert {**first, "fit_date": None} == {**second, "fit_date": None}  # reproducible, whatever the processes
    params = load_parameters(out)
    folds = params.calibration.cross_validation
    assert len(folds) == 2
    held = [i for f in folds for i in f.held_out]
    assert sorted(held) == sorted(ids.split(","))  # each chosen target held out exactly once
    cv = cross_validate(params, n=50)
    assert cv is not None and cv.total == len(held) and cv.folds == 2
    # a held-out row is the prediction under the fold's own values, not the full fit's
    row = cv.targets[0]
    fold = next(f for f in folds if f.fold == row.fold)
    target = next(t for t in load_targets() if t.id == row.id)
    expected, _ = predict(target, Evaluator(n=50, params=params.replace(fold.values)))
    assert row.predicted == pytest.approx(expected)
    report = _run("validate", "--params", str(out), "--n", "50", "--format", "json")
    assert report.returncode == 0, report.stderr
    doc = json.loads(report.stdout)
    assert doc["cross_validation"]["folds"] == 2 and doc["cross_validation"]["total"] == len(held)
    assert doc["in_sample"]["total"] == doc["total"] == len(doc["targets"])  # compatibility: top level = in-sample
    assert doc["pk"]["total"] == len(load_checks())
    table = _run("validate", "--params", str(out), "--n", "50")
    assert "cross-validated (2-fold by study" in table.stdout


def test_packaged_parameters_carry_a_cross_validation_of_at_least_five_folds() -> None:
    cal = default_parameters().calibration
    assert len(cal.cross_validation) >= 5
    sources = {s for f in cal.cross_validation for s in f.sources}
    assert len(sources) >= 40
    held = [i for f in cal.cross_validation for i in f.held_out]
    assert len(held) == len(set(held))
    assert set(held) == set(cal.targets_used)
    assert set(cal.uncertainty) <= set(cal.values)
    # a study is held out whole: no fold trains on the patients it predicts (sources sharing a `study` included)
    fold_of = {i: k for k, f in enumerate(cal.cross_validation) for i in f.held_out}
    by_id = {t.id: t for t in load_targets()}
    study_folds: dict[str, set[int]] = {}
    for i, k in fold_of.items():
        study_folds.setdefault(source_key(by_id[i]), set()).add(k)
    assert all(len(f) == 1 for f in study_folds.values()), {s: f for s, f in study_folds.items() if len(f) > 1}
    # the sources of derived values are neither fitted nor cross-validated (they cannot test themselves)
    derived = {t.id for t in load_targets() if t.derives is not None}
    assert derived and not derived & set(held)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--folds", "1"], "--folds"),
        (["--folds", "21"], "--folds"),
        (["--folds", "3", "--targets", "1,2"], "--folds"),
        (["--jobs", "0"], "--jobs"),
        (["--starts", "0"], "--starts"),
        (["--starts", "9"], "--starts"),
    ],
)
def test_calibration_options_are_refused_naming_the_option(tmp_path: Path, args: list[str], flag: str) -> None:
    out = tmp_path / "never.yaml"
    done = _run("calibrate", "--out", str(out), *args)
    assert done.returncode == 2
    assert flag in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_a_fold_missing_a_parameter_is_refused_naming_it(tmp_path: Path) -> None:
    raw = yaml.safe_load((Path(__file__).parents[1] / "src/ketasim/data/calibrated.yaml").read_text())
    raw["cross_validation"] = [
        {"fold": 0, "sources": ["x"], "held_out": ["1"], "values": dict(raw["values"]), "objective": 1.0}
    ]
    del raw["cross_validation"][0]["values"]["efficacy_d50"]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParameterError, match=r"cross_validation\[0\]\.values\.efficacy_d50"):
        load_parameters(path)
    done = _run("validate", "--params", str(path))
    assert done.returncode == 2 and "efficacy_d50" in done.stderr


@settings(max_examples=50, deadline=None)
@given(observed=st.floats(0.1, 500), predicted=st.floats(0.01, 1000), rel=st.floats(0.01, 0.5))
def test_pk_check_verdicts_follow_their_tolerance(observed: float, predicted: float, rel: float) -> None:
    check = PKCheck(
        id="x",
        source="s",
        drug="racemic_ketamine",
        dose={"amount_mg": 10},
        analyte="ketamine",
        metric="cmax",
        observed=observed,
        rel_tol=rel,
    )
    assert check.passes(predicted) == (abs(predicted / observed - 1) <= rel)


def test_pk_checks_report_every_check_with_a_finite_value() -> None:
    doc = pk_checks()
    assert doc.total == len(load_checks()) >= 15
    assert all(math.isfinite(r.predicted) for r in doc.checks)
    assert doc.passed == sum(r.passed for r in doc.checks)


@pytest.mark.parametrize("command", ["validate", "calibrate"])
def test_unknown_target_families_are_refused(tmp_path: Path, command: str) -> None:
    extra = ["--out", str(tmp_path / "never.yaml")] if command == "calibrate" else []
    done = _run(command, *extra, "--families", "adverse,astrology")
    assert done.returncode == 2
    assert "--families" in done.stderr and "astrology" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "never.yaml").exists()


def test_validate_keeps_only_the_families_asked_for() -> None:
    from ketasim.trials.validation import validate

    doc = validate(n=50, families=frozenset({"ocd"}), cross_validated=False, pk=False)
    assert doc.total == sum(t.family == "ocd" for t in load_targets()) > 0
    assert {r.family for r in doc.targets} == {"ocd"}


@settings(max_examples=20, deadline=None)
@given(starts=st.integers(1, 8), name=st.sampled_from(["efficacy", "side effects"]))
def test_start_points_begin_at_the_declared_start_stay_in_the_box_and_repeat(starts: int, name: str) -> None:
    free = stage("efficacy" if name == "efficacy" else "adverse")
    points = start_points(free, starts, name)
    assert len(points) == starts
    first = points[0]
    for p, v in zip(free, first, strict=True):
        declared = min(max(p.start, p.low), p.high)
        assert (math.exp(v) if p.log else v) == pytest.approx(declared)
    for x in points:
        for p, v in zip(free, x, strict=True):
            value = math.exp(v) if p.log else v
            assert p.low * (1 - 1e-12) <= value <= p.high * (1 + 1e-12)
    again = start_points(free, starts, name)
    assert all(np.array_equal(a, b) for a, b in zip(points, again, strict=True))  # fixed seeds
    assert len({tuple(x) for x in points}) == starts  # distinct points


@pytest.mark.parametrize("starts", [0, 9, True, 1.5])
def test_start_counts_outside_the_range_are_refused(starts: object) -> None:
    with pytest.raises(CalibrationError, match="starts"):
        calibrate(n=50, max_nfev=1, starts=starts, log=lambda _m: None)  # type: ignore[arg-type]


def test_more_starts_never_end_at_a_higher_cost() -> None:
    """The winner of several starts is at most the single start's cost (the first start is the
    single start's point)."""
    targets = [t for t in load_targets() if t.id in ("1", "2", "3")]
    one = calibrate(n=50, max_nfev=2, targets=targets, log=lambda _m: None)
    three = calibrate(n=50, max_nfev=2, targets=targets, starts=3, log=lambda _m: None)
    assert three.objective <= one.objective + 1e-9
    assert "3 starts per stage" in three.method


@settings(max_examples=40, deadline=None)
@given(read=st.lists(st.booleans(), min_size=1, max_size=12), x0=st.floats(-5.0, 5.0))
def test_informed_finds_exactly_the_parameters_some_residual_reads(read: list[bool], x0: float) -> None:
    mask = np.array(read)

    def data_residuals(x: np.ndarray) -> np.ndarray:
        return np.array([np.sum(np.tanh(x[mask])), float(np.prod(np.cos(x[mask])))]) if mask.any() else np.zeros(2)

    assert np.array_equal(informed(data_residuals, np.full(mask.size, x0)), mask)


@settings(max_examples=40, deadline=None)
@given(
    a=st.lists(st.floats(-3.0, 3.0), min_size=1, max_size=6),
    x0=st.floats(-2.0, 2.0),
    h=st.floats(0.01, 0.2),
)
def test_forward_jacobian_matches_the_forward_difference_of_a_quadratic(a: list[float], x0: float, h: float) -> None:
    """Oracle: for f = (Σ a·x, Σ a·x²) a forward step h gives exactly a and a·(2x + h)."""
    coef = np.array(a)
    x = np.full(coef.size, x0)

    def fun(v: np.ndarray) -> np.ndarray:
        return np.array([np.sum(coef * v), np.sum(coef * v**2)])

    jac = forward_jacobian(fun, x, fun(x), np.full(coef.size, h))
    np.testing.assert_allclose(jac[0], coef, atol=1e-6)
    np.testing.assert_allclose(jac[1], coef * (2 * x0 + h), atol=1e-6)


def test_the_difference_step_is_five_percent_of_each_value_wherever_it_sits() -> None:
    """A gain at 1 sits at 0 on the log scale; its step is still a 5% change (SciPy's relative
    ``diff_step`` would give 1.5e-8 there), and a value at the top of its box steps down."""
    free = [p for p in stage("efficacy") if p.name in ("condition_ocd_drug_gain", "efficacy_emax")]
    hi = np.log([p.high for p in free])
    at_one = np.array([0.0 if p.name.startswith("condition") else hi[i] for i, p in enumerate(free)])
    steps = fd_steps(free, at_one, hi)
    assert all(p.log for p in free)
    for p, h in zip(free, steps, strict=True):
        assert h == pytest.approx(-DIFF_STEP if p.name == "efficacy_emax" else DIFF_STEP)


def test_a_gain_that_starts_at_one_moves_when_a_target_reads_it() -> None:
    """The OCD gains start at 1 (the depression value).  Bloch 2012's 0 of 10 and Rodriguez
    2013's 50% read them, so a fit on those three targets moves the drug gain off 1 (every
    packaged calibration until 2026-12-06 returned exactly 1: SciPy's step at x = 0 was 1.5e-8)."""
    targets = [t for t in load_targets() if t.id in ("n48", "134-ket", "134-pbo")]
    cal = calibrate(n=200, max_nfev=3, targets=targets, log=lambda _m: None)
    assert cal.values["condition_ocd_drug_gain"] != pytest.approx(1.0, abs=1e-3)
    assert cal.uncertainty["condition_ocd_drug_gain"].status != "not_identifiable"


def test_a_parameter_no_chosen_target_reads_is_held_at_its_uninformed_value() -> None:
    """Without a diastolic target the diastolic slope is not fitted: it is held at its declared
    null (not at its start, which a full fit on the diastolic studies produced) and is reported
    as not identifiable, while the systolic slope the SBP target reads moves."""
    targets = [t for t in load_targets() if t.id in ("1", "145a")]
    assert not any(t.scale in ("DBP", "MAP") for t in targets)
    cal = calibrate(n=50, max_nfev=3, targets=targets, starts=2, log=lambda _m: None)  # the 2nd start moves every start
    declared = {p.name: p for p in stage("adverse")}
    dbp = declared["dbp_rise_max_mmhg"]
    assert dbp.uninformed is not None and dbp.uninformed != pytest.approx(dbp.start)
    assert cal.values["dbp_rise_max_mmhg"] == pytest.approx(dbp.uninformed, rel=1e-9)
    assert cal.uncertainty["dbp_rise_max_mmhg"].status == "not_identifiable"
    assert cal.values["sbp_rise_max_mmhg"] != pytest.approx(declared["sbp_rise_max_mmhg"].start, rel=1e-4)


def test_a_relative_gain_no_chosen_target_reads_is_held_at_one() -> None:
    """A fit on depression targets only cannot inform the condition gains: each is held at 1,
    its prior's centre (the depression value), whatever its declared start."""
    targets = [t for t in load_targets() if t.id in ("1", "2", "3")]
    assert all(t.condition in (None, "trd", "mdd") for t in targets)
    cal = calibrate(n=50, max_nfev=1, targets=targets, log=lambda _m: None)
    gains = [p for p in stage("efficacy") if p.shrunk and p.name.startswith("condition_")]
    assert gains and any(p.start != pytest.approx(1.0) for p in gains)
    for p in gains:
        assert cal.values[p.name] == 1.0
        assert cal.uncertainty[p.name].status == "not_identifiable"


@settings(max_examples=60, deadline=None)
@given(low=st.floats(0.01, 10.0), width=st.floats(0.01, 100.0), at=st.floats(-2.0, 3.0))
def test_an_uninformed_value_outside_the_search_box_is_refused(low: float, width: float, at: float) -> None:
    high = low + width
    value = low + at * width
    spec = {"name": "g", "unit": "1", "stage": "adverse", "start": low, "low": low, "high": high, "meaning": "m"}
    if low <= value <= high:
        assert FreeParameter.model_validate({**spec, "uninformed": value}).held_value == value
    else:
        with pytest.raises(ValidationError, match="uninformed"):
            FreeParameter.model_validate({**spec, "uninformed": value})


def test_a_stage_whose_targets_read_no_parameter_holds_every_parameter() -> None:
    """An adverse incidence with no model quantity (106b, loss of consciousness, as it was
    until 2026-12-06): the side-effect stage fitted on it alone moves nothing and holds every
    parameter at its uninformed value, reported as not identifiable, without failing."""
    targets = [t.model_copy(update={"quantity": None, "derives": None}) for t in load_targets() if t.id == "106b"]
    cal = calibrate(n=50, max_nfev=2, targets=targets, log=lambda _m: None)
    for p in stage("adverse"):
        assert cal.values[p.name] == pytest.approx(p.held_value, rel=1e-9)
        assert cal.uncertainty[p.name].status == "not_identifiable"


@pytest.mark.parametrize("value", ["-1", "10001", "1.5", "true"])
def test_a_replicate_outside_its_range_is_refused_naming_the_option(value: str) -> None:
    done = _run("validate", "--n", "50", "--replicate", value)
    assert done.returncode == 2
    assert "--replicate" in done.stderr and "Traceback" not in done.stderr


def test_a_replicate_is_refused_by_the_python_api_too() -> None:
    from ketasim.errors import InputError
    from ketasim.trials.validation import validate

    for value in (-1, True, 2.0):
        with pytest.raises(InputError, match="replicate"):
            validate(n=50, replicate=value)  # type: ignore[arg-type]


def test_each_replicate_draws_new_patients_and_a_rate_varies_as_binomial_sampling() -> None:
    """Oracle: a response rate over n independent virtual patients varies between draws with
    variance p(1 − p)/n; (k − 1)·s²/σ² over k draws is χ²(k − 1) (scipy), tested two-sided at
    α = 0.002.  Replicate 0 is the packaged draw."""
    target = next(t for t in load_targets() if t.id == "3")
    n, draws = 200, 16
    packaged, _ = predict(target, Evaluator(n=n))
    assert packaged == predict(target, Evaluator(n=n, replicate=0))[0]
    rates = np.array([predict(target, Evaluator(n=n, replicate=r))[0] for r in range(1, draws + 1)], dtype=float)
    assert len(set(rates.tolist())) > 1
    p = float(rates.mean())
    statistic = (draws - 1) * rates.var(ddof=1) / (p * (1 - p) / n)
    assert stats.chi2.ppf(0.001, draws - 1) < statistic < stats.chi2.ppf(0.999, draws - 1), (statistic, rates)


@pytest.mark.slow
def test_sigterm_stops_a_calibration_and_its_fold_workers(tmp_path: Path) -> None:
    """SIGTERM while the fold refits run: the command exits with the signal's status, its
    worker processes are gone and nothing is written.  The refits (every target, 500
    evaluations a stage) would take hours: waiting for them would hang the test."""
    out = tmp_path / "cv.yaml"
    args = ["calibrate", "--out", str(out), "--n", "400", "--max-evaluations", "500"]
    proc = subprocess.Popen([*KETASIM, *args, "--folds", "2", "--jobs", "2"], stdout=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the pool starts right after this line
            if "worker process(es)" in line:
                break
        workers: list[psutil.Process] = []
        give_up = time.monotonic() + 300  # a hang guard, not a speed requirement
        while len(workers) < 2:  # both refits under way (each worker is a spawned Python)
            assert proc.poll() is None and time.monotonic() < give_up, "the fold refits did not start"
            workers = [c for c in parent.children(recursive=True) if "spawn_main" in " ".join(_cmdline(c))]
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 128 + signal.SIGTERM
        _, alive = psutil.wait_procs(workers, timeout=60)
        assert alive == []
        assert list(tmp_path.iterdir()) == []
    finally:  # a failed test leaves no calibration running
        for leftover in [*parent.children(recursive=True), parent] if proc.poll() is None else []:
            leftover.kill()


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return list(process.cmdline())
    except psutil.Error:  # ended meanwhile
        return []


def test_a_stop_signal_whose_exit_was_swallowed_ends_the_fit_at_its_next_evaluation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Python drops a SystemExit raised by a signal handler inside a finaliser; the fit must
    still stop, with the signal's status, instead of running its stages to the end."""
    from ketasim.io import files

    monkeypatch.setattr(files, "_terminated_by", [signal.SIGTERM])
    chosen = [t for t in load_targets() if t.id in {"1", "2"}]
    with pytest.raises(SystemExit) as stopped:
        calibrate(n=50, max_nfev=2, log=lambda _: None, targets=chosen)
    assert stopped.value.code == 128 + signal.SIGTERM


@settings(max_examples=80, deadline=None)
@given(
    studies=st.lists(st.sampled_from("ABCDEFGHIJ"), min_size=2, max_size=10, unique=True),
    data=st.data(),
)
def test_a_refit_never_starts_from_values_fitted_on_a_study_it_holds_out(
    studies: list[str], data: st.DataObject
) -> None:
    """``fold_start_values`` hands refit i the previous refit i's values only when that refit
    was fitted without every study refit i holds out (a study the previous calibration did not
    know cannot have informed it); otherwise the declared starts ({})."""
    k = data.draw(st.integers(2, len(studies)))
    old_fold = [data.draw(st.integers(0, k - 1)) for _ in studies]
    previous = [
        FoldStart(tuple(s for s, f in zip(studies, old_fold, strict=True) if f == i), {"efficacy_emax": 0.1 + i})
        for i in range(k)
    ]
    index = data.draw(st.integers(0, k - 1))
    held = data.draw(st.lists(st.sampled_from("ABCDEFGHIJKLMN"), min_size=1, max_size=6, unique=True))
    got = fold_start_values(index, held, previous)
    trained_on = {s for s, f in zip(studies, old_fold, strict=True) if f != index}
    if trained_on & set(held):
        assert got == {}
    else:
        assert got == {"efficacy_emax": 0.1 + index}


def test_the_packaged_refits_start_from_refits_of_the_same_fixed_folds() -> None:
    """Every fixed fold has a start (so the packaged calibration uses them), fitted without its
    studies, inside the search boxes; a parameter added since that calibration starts from its
    declared start."""
    previous = packaged_fold_starts()
    searched = {p.name: p for p in stage("efficacy") + stage("adverse")}
    for i, fold in enumerate(fixed_folds()):
        start = fold_start_values(i, fold, previous)
        assert start and set(start) <= set(searched)
        for name, value in start.items():
            assert searched[name].low <= value <= searched[name].high, name


def test_a_refit_starts_where_its_fold_start_says() -> None:
    """With one evaluation per stage a refit stays at its start: the fold start, not the
    declared one, while the full fit starts from the declared start."""
    targets = [t for t in load_targets() if t.id in ("1", "2", "3", "145a")]
    folds = assign_folds(fittable(targets), 2)
    moved = {"sbp_rise_max_mmhg", "efficacy_emax"}
    values = {p.name: p.start * (1.3 if p.name in moved else 1.0) for p in stage("efficacy") + stage("adverse")}
    cal = calibrate(
        n=50, max_nfev=1, targets=targets, folds=2, jobs=1, log=lambda _m: None,
        fold_starts=[FoldStart(folds[0], values), FoldStart(folds[1], values)],
    )  # fmt: skip
    declared_start = {p.name: p.start for p in stage("efficacy") + stage("adverse")}
    for fold in cal.cross_validation:
        for name in moved:
            assert fold.values[name] == pytest.approx(1.3 * declared_start[name], rel=1e-4)
    assert cal.values["sbp_rise_max_mmhg"] == pytest.approx(declared_start["sbp_rise_max_mmhg"], rel=1e-4)


def test_the_fold_starts_script_writes_what_the_calibration_reads(tmp_path: Path) -> None:
    """docs/fold_starts.py, run as a process on the packaged calibration, writes one start per
    refit with that refit's held-out studies and values, in the format the calibration loads;
    on a file without refits it exits with a message and a non-zero status."""
    from ketasim.io.data import packaged

    script = Path(__file__).parents[1] / "docs" / "fold_starts.py"
    cal = packaged("calibrated.yaml")
    done = subprocess.run([sys.executable, str(script), str(cal)], capture_output=True, text=True, check=True)
    written = yaml.safe_load(done.stdout)
    folds = yaml.safe_load(cal.read_text(encoding="utf-8"))["cross_validation"]
    assert [f["sources"] for f in written["folds"]] == [f["sources"] for f in folds]
    assert [f["values"] for f in written["folds"]] == [f["values"] for f in folds]
    assert written["from"].startswith("calibrated.yaml, fit ")
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump({**yaml.safe_load(cal.read_text(encoding="utf-8")), "cross_validation": []}))
    failed = subprocess.run([sys.executable, str(script), str(bare)], capture_output=True, text=True)
    assert failed.returncode != 0 and "no cross-validation refits" in failed.stderr
    for bad in (tmp_path / "missing.yaml", tmp_path / "junk.yaml"):
        if bad.name == "junk.yaml":
            bad.write_text("values: [1, 2\n")
        done = subprocess.run([sys.executable, str(script), str(bad)], capture_output=True, text=True)
        assert done.returncode != 0 and "not a readable calibration file" in done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
