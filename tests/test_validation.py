"""The validation report: every target listed, the JSON contract, and the pass rate."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.io.data import packaged
from ketasim.params import default_parameters, load_parameters
from ketasim.trials.calibration import calibrate, fit_glutamate_adaptation, write_calibration
from ketasim.trials.targets import load_targets
from ketasim.trials.validation import Evaluator, ValidationReport, entry_score, predict, rating_scale, validate

REQUIRED_PASS_RATE = 0.90
"""In sample: the packaged parameters were fitted on these targets, so this measures the fit
(issue 12's bar)."""
REQUIRED_CV_PASS_RATE = 0.75
"""Cross-validated: each study predicted by a fit without it (issue 12's bar; the headline)."""
runner = CliRunner(env={"COLUMNS": "300"})


@pytest.fixture(scope="module")
def report() -> ValidationReport:
    return validate(n=400)


def test_every_target_is_listed_none_dropped(report: ValidationReport) -> None:
    ids = [t.id for t in load_targets()]
    assert [row.id for row in report.targets] == ids
    assert report.total == len(ids) >= 75
    for row in report.targets:
        if row.predicted is None:
            assert row.passed is False and row.reason


def test_the_report_says_which_targets_were_fitted(report: ValidationReport) -> None:
    """Fitted targets, and the sources of derived values, are marked: for them the report
    measures the fit, not a prediction."""
    used = set(default_parameters().calibration.targets_used)
    derived = {t.id for t in load_targets() if t.derives is not None}
    assert not used & derived
    assert {r.id for r in report.targets if r.used_in_calibration} == used | derived
    assert "digest" in report.parameters


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="Known miss (packaged calibration of 2026-12-07, thirty-fourth session): 208/257 = 80.9% in sample on "
    "the packaged draw, mean 208.9 over draws 0-7, below the bar of 90% (issue 12; it was 85% of 135 targets "
    "before 121 more targets were added). docs/model.md section 8.",
)
def test_in_sample_pass_rate_meets_the_bar(report: ValidationReport) -> None:
    rate = report.passed / report.total
    assert rate >= REQUIRED_PASS_RATE, f"{report.passed}/{report.total} = {rate:.1%}"


@pytest.mark.xfail(
    strict=True,
    reason="Known miss (packaged calibration of 2026-12-07, thirty-fourth session): 172/243 = 70.8% "
    "cross-validated on the packaged draw, mean 169.1 (69.6%) over draws 0-7 (137/183 with folds by source, "
    "when a fold could train on the patients it predicted). docs/model.md section 8.",
)
def test_cross_validated_pass_rate_meets_the_bar(report: ValidationReport) -> None:
    """Issue 12's bar on the packaged draw (75% of the held-out targets; the headline)."""
    cv = report.cross_validation
    assert cv is not None and cv.folds >= 5 and cv.sources >= 40
    rate = cv.passed / cv.total
    assert rate >= REQUIRED_CV_PASS_RATE, f"{cv.passed}/{cv.total} = {rate:.1%}"


def test_calibration_stage_1_is_reproducible() -> None:
    """Re-running the glutamate-timing fit gives the packaged value."""
    p = default_parameters()
    assert fit_glutamate_adaptation(p) == pytest.approx(p["tau_glutamate_adaptation_min"], rel=1e-3)


def test_calibrated_file_records_provenance() -> None:
    cal = default_parameters().calibration
    assert cal.fit_date and cal.method and cal.targets_used
    known = {t.id for t in load_targets()}
    assert set(cal.targets_used) <= known


def test_validate_cli_json_and_report(tmp_path: Path) -> None:
    html = tmp_path / "v.html"
    result = runner.invoke(app, ["validate", "--format", "json", "--n", "50", "--report", str(html)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert set(doc) == {
        "targets", "passed", "total", "in_sample", "cross_validation", "cross_validation_note", "pk",
        "n_per_arm", "replicate", "parameters", "disclaimer",
    }  # fmt: skip
    assert doc["replicate"] == 0
    assert doc["total"] == len(load_targets()) and doc["n_per_arm"] == 50
    assert doc["in_sample"]["passed"] == doc["passed"]  # the top level stays the in-sample figure
    cv = doc["cross_validation"]
    assert cv["folds"] >= 5 and cv["total"] + len(cv["not_in_any_fold"]) == sum(t.addressable for t in load_targets())
    text = html.read_text()
    assert "data:image/png;base64" in text and "does not replace clinical judgement" in text
    assert "Cross-validated:" in text and "held-out targets within tolerance" in text


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_calibration_end_to_end_on_a_tiny_configuration(tmp_path: Path) -> None:
    """`ketasim calibrate --out` on five targets: a new parameter file, deterministic, usable
    with --params everywhere, and the packaged file untouched."""
    packaged_file = Path(str(packaged("calibrated.yaml")))
    before = _sha(packaged_file)
    out = tmp_path / "fit.yaml"
    args = ["calibrate", "--out", str(out), "--n", "50", "--max-evaluations", "2", "--targets", "1,2,5,107-esk,109a"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert _sha(packaged_file) == before
    fitted = load_parameters(out)
    assert fitted.calibration.targets_used == ("1", "2", "5", "107-esk", "109a")
    assert fitted.digest != default_parameters().digest
    assert "GENERATED by `ketasim calibrate`" in out.read_text()
    again = tmp_path / "again.yaml"
    assert runner.invoke(app, [*args[:2], str(again), *args[3:]]).exit_code == 0
    assert yaml.safe_load(again.read_text())["values"] == yaml.safe_load(out.read_text())["values"]
    sim = runner.invoke(app, ["simulate", "--params", str(out), "--format", "json"])
    assert sim.exit_code == 0, sim.output
    default = runner.invoke(app, ["simulate", "--format", "json"])
    assert json.loads(sim.output)["scales"] != json.loads(default.output)["scales"]


def test_calibrate_writes_through_the_python_api_too(tmp_path: Path) -> None:
    targets = [t for t in load_targets() if t.id in ("1", "2")]
    cal = calibrate(n=50, max_nfev=1, targets=targets, log=lambda _m: None)
    write_calibration(cal, str(tmp_path / "c.yaml"))
    assert load_parameters(tmp_path / "c.yaml").calibration == cal


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("values: {efficacy_emax: 0.4}\n", "fit_date"),
        ("fit_date: x\nmethod: y\ntargets_used: []\nvalues: {efficacy_emax: .nan}\n", "values.efficacy_emax"),
        ("[1, 2]\n", "mapping"),
    ],
)
def test_a_bad_parameter_file_is_refused_naming_the_field(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(content)
    result = runner.invoke(app, ["simulate", "--params", str(path)])
    assert result.exit_code == 2 and "--params" in result.output and fragment in result.output, result.output


def test_a_parameter_file_must_hold_every_free_parameter(tmp_path: Path) -> None:
    raw = yaml.safe_load(Path(str(packaged("calibrated.yaml"))).read_text())
    del raw["values"]["efficacy_emax"]
    raw["values"]["made_up"] = 1.0
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["plan", "examples/patients/trd_iv_ketamine.yaml", "--params", str(path)])
    assert result.exit_code == 2
    assert "values.efficacy_emax" in result.output and "values.made_up" in result.output


def test_validate_cli_refuses_bad_n() -> None:
    result = CliRunner(env={"COLUMNS": "300"}).invoke(app, ["validate", "--n", "3"])
    assert result.exit_code == 2
    assert "--n" in result.output


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["calibrate", "--out", "fit.yaml", "--n", "10"], "--n"),
        (["calibrate", "--out", "fit.yaml", "--max-evaluations", "0"], "--max-evaluations"),
        (["calibrate", "--out", "fit.txt"], "--out"),
        (["calibrate", "--out", "fit.yaml", "--targets", "999,1"], "--targets"),
        (["calibrate"], "--out"),
        (["params", "bogus_model"], "MODEL"),
    ],
)
def test_calibrate_and_params_refuse_bad_input(args: list[str], flag: str, tmp_path: Path) -> None:
    before = _sha(Path(str(packaged("calibrated.yaml"))))
    result = runner.invoke(app, [a.replace("fit.", f"{tmp_path}/fit.") for a in args])
    assert result.exit_code == 2, result.output
    assert flag in result.output
    assert _sha(Path(str(packaged("calibrated.yaml")))) == before
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("share", [0.0, 0.38, 1.0])
@pytest.mark.parametrize("endpoint", ["effect_size", "difference"])
def test_a_pooled_control_weights_inert_and_active_placebo_by_their_share(share: float, endpoint: str) -> None:
    """A meta-analysis pooling saline- and midazolam-controlled trials: the prediction is the
    share-weighted mean of the same target run against each control alone."""
    from ketasim.regimens import PlaceboSessions
    from ketasim.trials.validation import Evaluator, predict

    base = next(t for t in load_targets() if t.id == "54")
    assert base.control is not None
    update = {"endpoint": endpoint, "active_control_share": share, "active_control_note": "test"}
    pooled = base.model_copy(update=update)
    midazolam = base.control.model_copy(
        update={"treatment": tuple(PlaceboSessions(placebo="midazolam", days=(0,)) for _ in base.control.treatment)}
    )
    alone = {
        "saline": base.model_copy(update={"endpoint": endpoint}),
        "midazolam": base.model_copy(update={"endpoint": endpoint, "control": midazolam}),
    }
    ev = Evaluator(n=200)
    got, _ = predict(pooled, ev)
    inert, active = predict(alone["saline"], ev)[0], predict(alone["midazolam"], ev)[0]
    assert got is not None and inert is not None and active is not None
    assert got == pytest.approx((1 - share) * inert + share * active, rel=1e-12, abs=1e-12)
    assert inert != pytest.approx(active, rel=0.05)  # the two controls differ, so the share matters


def test_a_pooled_control_share_needs_a_placebo_control_and_a_source() -> None:
    from pydantic import ValidationError

    from ketasim.trials.targets import Target

    base = next(t for t in load_targets() if t.id == "54").model_dump()
    assert Target.model_validate({**base, "active_control_share": 0.3, "active_control_note": "x"})
    with pytest.raises(ValidationError, match="active_control_note"):
        Target.model_validate({**base, "active_control_share": 0.3})
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        Target.model_validate({**base, "active_control_share": 1.5, "active_control_note": "x"})
    with pytest.raises(ValidationError, match="control with placebo sessions"):
        Target.model_validate({**base, "control": base["arm"], "active_control_share": 0.3, "active_control_note": "x"})


@pytest.mark.parametrize(("every_days", "confirmed_by"), [(1.0, 1), (3.5, 2), (7.0, 2), (7.0, 3)])
def test_time_to_loss_of_response_follows_the_visits_and_the_confirmation_rule(
    every_days: float, confirmed_by: int
) -> None:
    """Oracle: a per-patient walk over the same follow-up ratings, written independently —
    a loss is the first of `confirmed_by` consecutive ratings without response, counted only
    at the follow-up visits, among those responding at the end of the course."""
    import numpy as np

    from ketasim.trials.validation import FOLLOW_UP_DAYS, Evaluator, _responded, predict, start_h

    base = next(t for t in load_targets() if t.id == "n14")
    target = base.model_copy(update={"follow_up_every_days": every_days, "loss_confirmed_by": confirmed_by})
    ev = Evaluator(n=120)
    got, _ = predict(target, ev)
    days = [i * every_days for i in range(int(FOLLOW_UP_DAYS / every_days + 1e-9) + 1)]
    end_h = start_h(target.arm) + (target.time_h or 0.0)
    responding = _responded(ev.run(target, target.arm, np.array([end_h + 24.0 * d for d in days])), base.scale)
    times = []
    for row in responding:
        if not row[0]:
            continue
        day = float(FOLLOW_UP_DAYS)
        for i in range(len(days) - confirmed_by + 1):
            if not any(row[i : i + confirmed_by]):
                day = days[i]
                break
        times.append(day)
    assert got == pytest.approx(float(np.median(times)))
    if confirmed_by > 1:  # a confirmed loss can only come later than an unconfirmed one
        once, _ = predict(target.model_copy(update={"loss_confirmed_by": 1}), ev)
        assert once is not None and got >= once


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("follow_up_every_days", 0),
        ("follow_up_every_days", True),
        ("follow_up_every_days", float("nan")),
        ("follow_up_every_days", 29),
        ("loss_confirmed_by", 0),
        ("loss_confirmed_by", True),
        ("loss_confirmed_by", 1.5),
        ("loss_confirmed_by", 5),
        ("improvement_points", 0),
        ("improvement_points", True),
        ("improvement_points", float("inf")),
        ("observed", True),
        ("tolerance", True),
        ("time_h", True),
        ("sd", "4"),
        ("addressable", 1),
        ("context", {"open_label": 1}),
        ("context", {"lead_in": "yes"}),
        ("context", {"failed_trials": [True, 2]}),
        ("context", {"age_mean": False}),
    ],
)
def test_a_target_field_of_the_wrong_kind_or_outside_its_range_is_refused_naming_it(field: str, value: object) -> None:
    from pydantic import ValidationError

    from ketasim.trials.targets import Target

    base = next(t for t in load_targets() if t.id == "131").model_dump()
    assert Target.model_validate(base).follow_up_every_days == 7
    with pytest.raises(ValidationError, match=field):
        Target.model_validate({**base, field: value})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"scale": "CADSS"}, "largest_session_mean_peak is read from SBP or DBP readings"),
        ({"scale": "CADSS", "statistic": "average_session_mean_peak"}, "average_session_mean_peak is read from SBP"),
        ({"assessed_at_h": None}, "give assessed_at_h"),
    ],
)
def test_a_largest_session_mean_peak_needs_bp_readings(changes: dict[str, object], message: str) -> None:
    from pydantic import ValidationError

    from ketasim.trials.targets import Target

    base = next(t for t in load_targets() if t.id == "bp6-esk-sbp").model_dump()
    with pytest.raises(ValidationError, match=message):
        Target.model_validate({**base, **changes})


_EVALUATOR = Evaluator(n=200)


def _time_to_improvement(points: float) -> float | None:
    target = next(t for t in load_targets() if t.id == "139").model_copy(update={"improvement_points": points})
    return predict(target, _EVALUATOR)[0]


@settings(max_examples=12, deadline=None)
@given(small=st.floats(0.5, 12.0), extra=st.floats(0.0, 6.0))
def test_time_to_improvement_is_a_visit_day_and_a_larger_drop_takes_no_less_time(small: float, extra: float) -> None:
    """STAR*D level 1 (target 139): the median first visit with a given drop from entry."""
    target = next(t for t in load_targets() if t.id == "139")
    assert target.assessed_at_h is not None
    days = [h / 24.0 for h in target.assessed_at_h]
    first, later = _time_to_improvement(small), _time_to_improvement(small + extra)
    if first is None:  # not reached by half the patients: a larger drop is not reached either
        assert later is None
        return
    assert days[0] <= first <= days[-1]
    # a median of an even number of patients may fall between two visits, never outside them
    assert any(abs(first - d) < 1e-9 for d in days) or any(a < first < b for a, b in itertools.pairwise(days))
    assert later is None or later >= first


def test_a_drop_no_patient_reaches_is_reported_not_invented() -> None:
    target = next(t for t in load_targets() if t.id == "139").model_copy(update={"improvement_points": 27.0})
    value, reason = predict(target, _EVALUATOR)  # QIDS-SR16 runs 0-27: no entry score drops by 27
    assert value is None and reason is not None and "fewer than half" in reason


def test_a_response_needed_at_more_assessments_is_rarer_and_equals_counting_them_directly() -> None:
    """Su 2017 (su17-05): a responder by the trial's rule responds at two or more of the daily
    ratings of days 2-5; the rate falls as more ratings are required, and each equals the share of
    patients whose own ratings (read directly from the same run) meet it at that many."""
    from ketasim.trials.validation import _responded, rating_scale, start_h

    target = next(t for t in load_targets() if t.id == "su17-05")
    assert target.assessed_at_h is not None and target.assessments_needed == 2
    times = np.array([start_h(target.arm) + h for h in target.assessed_at_h])
    counts = np.sum(_responded(_EVALUATOR.run(target, target.arm, times), rating_scale(target)), axis=1)
    rates = []
    for needed in range(1, len(times) + 1):
        value = predict(target.model_copy(update={"assessments_needed": needed}), _EVALUATOR)[0]
        assert value == pytest.approx(float(np.mean(counts >= needed)))
        rates.append(value)
    assert all(a >= b for a, b in itertools.pairwise(rates))
    assert rates[0] > rates[-1]  # some patients respond at some ratings, not at all of them


def test_more_assessments_needed_than_listed_is_refused_naming_the_field() -> None:
    from pydantic import ValidationError

    from ketasim.trials.targets import Target

    base = next(t for t in load_targets() if t.id == "su17-05").model_dump()
    with pytest.raises(ValidationError, match="assessments_needed 5 is more than the 4 assessments"):
        Target.model_validate({**base, "assessments_needed": 5})
    with pytest.raises(ValidationError, match="assessments_needed"):
        Target.model_validate({**base, "assessments_needed": 0})
    # only the assessments up to time_h are read, so only those can be required
    early = {**base, "time_h": base["assessed_at_h"][1], "assessments_needed": 3}
    with pytest.raises(ValidationError, match="more than the 2 assessments of assessed_at_h at or before time_h"):
        Target.model_validate(early)
    # a count of assessments means nothing for an endpoint not read as a rate at assessed_at_h
    for update in ({"endpoint": "mean_change"}, {"assessed_at_h": None}):
        with pytest.raises(ValidationError, match="assessments_needed 2 is for a response or remission rate"):
            Target.model_validate({**base, **update})


def test_a_rate_endpoint_counts_what_it_names_and_a_contradicting_measure_is_refused() -> None:
    """Hu 2016's remission by 4 weeks (n41) was counted as response until 2026-12-07: the rate
    read at several assessments took ``measure`` (default response), not the endpoint."""
    from pydantic import ValidationError

    from ketasim.trials.targets import Target

    for target in load_targets():  # the invariant on every packaged target
        if target.endpoint == "remission_rate":
            assert target.measure == "remission", target.id
        if target.endpoint in ("response_rate", "sustained_response_rate"):
            assert target.measure == "response", target.id
    base = next(t for t in load_targets() if t.id == "n41").model_dump()
    with pytest.raises(ValidationError, match="measure 'response' contradicts endpoint remission_rate"):
        Target.model_validate({**base, "measure": "response"})
    su = next(t for t in load_targets() if t.id == "su17-05").model_dump()
    with pytest.raises(ValidationError, match="measure 'remission' contradicts endpoint response_rate"):
        Target.model_validate({**su, "measure": "remission"})


def test_a_remission_rate_at_listed_assessments_equals_counting_remitters_directly() -> None:
    """n41: the share of patients at or below the trial's remission cut-off (MADRS <= 10) at
    one or more of the listed assessments, counted directly from the same run, and below the
    responders' share."""
    from ketasim.trials.validation import _responded, rating_scale, start_h

    target = next(t for t in load_targets() if t.id == "n41")
    assert target.assessed_at_h is not None and target.score_at_most == 10
    times = np.array([start_h(target.arm) + h for h in target.assessed_at_h])
    run = _EVALUATOR.run(target, target.arm, times)
    name = rating_scale(target)
    remitted = float(np.mean(np.any(run.scales[name] <= 10.0, axis=1)))
    responded = float(np.mean(np.any(_responded(run, name), axis=1)))
    assert predict(target, _EVALUATOR)[0] == pytest.approx(remitted)
    assert remitted < responded


@pytest.mark.parametrize("target_id", ["73-pbo", "n40"])
def test_a_trials_own_remission_cut_off_counts_more_remitters_the_higher_it_is(target_id: str) -> None:
    """TRANSFORM-1 counted MADRS <= 12 as remission, Hu 2016 MADRS <= 10, the vocabulary <= 9:
    the scale's own cut-off reproduces the default exactly, and a higher one counts at least as
    many remitters (the same patients, so the order is exact, not statistical)."""
    from ketasim.trials.targets import Target
    from ketasim.vocabulary import scale

    base = next(t for t in load_targets() if t.id == target_id)
    default_cut = scale(base.scale).remission_max
    data = base.model_dump()
    rates = {}
    for cut in (None, default_cut, 10.0, 12.0, 15.0):
        changed = {"score_at_most": cut, "score_at_most_note": None if cut is None else "test"}
        rates[cut] = predict(Target.model_validate({**data, **changed}), _EVALUATOR)[0]
    assert rates[None] == rates[default_cut]
    assert rates[None] <= rates[10.0] <= rates[12.0] <= rates[15.0]
    assert rates[None] < rates[15.0]
    assert predict(base, _EVALUATOR)[0] == rates[base.score_at_most]


@pytest.mark.parametrize(
    ("target_id", "changes", "message"),
    [
        ("72-pbo", {"score_at_most": 12, "score_at_most_note": "x"}, "score_at_most 12 is a remission cut-off"),
        ("73-pbo", {"score_at_most": 61}, "within MADRS's range 0-60"),
        ("73-pbo", {"score_at_most_note": None}, "score_at_most_note giving its source"),
        ("73-pbo", {"score_at_most": -1}, "score_at_most"),
        ("73-pbo", {"score_at_most": float("nan")}, "score_at_most"),
        ("73-pbo", {"score_at_most": True}, "score_at_most"),
    ],
)
def test_a_remission_cut_off_is_refused_off_its_scale_on_a_response_or_without_a_source(
    target_id: str, changes: dict[str, object], message: str
) -> None:
    from pydantic import ValidationError

    from ketasim.trials.targets import Target

    base = next(t for t in load_targets() if t.id == target_id).model_dump()
    with pytest.raises(ValidationError, match=message):
        Target.model_validate({**base, **changes})


def test_time_to_improvement_needs_its_threshold_and_visits() -> None:
    from pydantic import ValidationError

    from ketasim.trials.targets import Target

    base = next(t for t in load_targets() if t.id == "139").model_dump()
    for field in ("improvement_points", "assessed_at_h"):
        with pytest.raises(ValidationError, match=field):
            Target.model_validate({**base, field: None})


@settings(max_examples=200, deadline=None)
@given(
    predicted=st.floats(-10.0, 10.0, allow_nan=False),
    observed=st.floats(-5.0, 5.0, allow_nan=False),
    tolerance=st.floats(0.01, 3.0, allow_nan=False),
    bound=st.sampled_from(["upper", "lower"]),
)
def test_a_bound_target_passes_on_its_side_and_the_fit_feels_only_the_overshoot(
    predicted: float, observed: float, tolerance: float, bound: str
) -> None:
    """A bound ('within 1.5 h'): every prediction on its side passes with a zero residual;
    beyond it, the target passes within the tolerance and the residual is the overshoot over
    the tolerance, the same as a two-sided target's on that side."""
    from ketasim.trials.calibration import residual

    t = next(x for x in load_targets() if x.id == "146a").model_copy(
        update={"observed": observed, "tolerance": tolerance, "bound": bound}
    )
    two_sided = t.model_copy(update={"bound": None})
    on_side = predicted <= observed if bound == "upper" else predicted >= observed
    if on_side:
        assert t.passes(predicted) and residual(t, predicted) == 0.0
    else:
        assert t.passes(predicted) == two_sided.passes(predicted)
        assert abs(residual(t, predicted)) == pytest.approx(abs(residual(two_sided, predicted)))


def test_a_bound_is_refused_where_it_has_no_meaning() -> None:
    """A bound needs a tolerance and a measured endpoint (not a 'not significant' result); the
    message names the target, the field and the value."""
    from pydantic import ValidationError

    t = next(x for x in load_targets() if x.id == "146a")
    with pytest.raises(ValidationError, match=r"146a: bound 'upper' needs a tolerance > 0 \(got 0\)"):
        type(t).model_validate({**t.model_dump(), "tolerance": 0.0})
    null = next(x for x in load_targets() if x.endpoint == "not_significant")
    with pytest.raises(ValidationError, match=r"bound 'upper' .* \(got not_significant\)"):
        type(null).model_validate({**null.model_dump(), "bound": "upper"})
    with pytest.raises(ValidationError, match="bound"):
        type(t).model_validate({**t.model_dump(), "bound": "sideways"})


ASSUMED_ENTRY = re.compile(r"assumed\s+([A-Za-z][A-Za-z0-9\-]*)\s+(\d+(?:\.\d+)?)")


def test_a_baseline_note_names_the_entry_score_that_is_simulated() -> None:
    """A target starts from its ``baseline``, else its condition's typical score; a note that
    names an assumed entry score ("assumed MADRS 37.7 ...") must name the one simulated.  Until
    2026-12-06, 30 notes named a value the model did not use (TRANSFORM's 37.7 simulated as 32;
    STAR*D's levels as 13.5 against 16)."""
    wrong = []
    for t in load_targets():
        found = ASSUMED_ENTRY.search(t.baseline_note or "")
        if found and found.group(1) == rating_scale(t) and float(found.group(2)) != pytest.approx(entry_score(t)):
            wrong.append((t.id, found.group(0), entry_score(t)))
    assert not wrong, wrong
