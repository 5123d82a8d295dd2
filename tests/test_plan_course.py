"""Plans that follow the patient (issue 14): maintenance from the forecast, the course review,
escalation simulated, the label's requirements, off-label plans, the measurement rhythm, BP
hold probabilities and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.clinic.dosing import plan_regimen
from ketasim.clinic.forecast import copies, escalation_multipliers, simulate_copies
from ketasim.clinic.patient import load_patient, parse_patient
from ketasim.clinic.plan import Plan, plan_patient
from ketasim.clinic.review import course_review, review_rules
from ketasim.errors import PlannerError
from ketasim.params import default_parameters
from patients import ESK, IV, base

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "ketasim" / "data" / "examples" / "patients"
COPIES = 120


patient = base


def scores(*pairs: tuple[float, float]) -> list[dict[str, Any]]:
    return [{"day": d, "scale": "MADRS", "score": s} for d, s in pairs]


@pytest.fixture(scope="module")
def trd_plan() -> Plan:
    return plan_patient(load_patient(EXAMPLES / "trd_iv_ketamine.yaml"), copies=COPIES)


def test_trd_example_maintenance_is_no_wider_than_its_interval_and_is_what_is_forecast(trd_plan: Plan) -> None:
    m = trd_plan.maintenance
    assert m is not None and m.chosen_interval_days is not None
    days = [s.day for s in trd_plan.regimen.sessions]
    after = [s.day for s in trd_plan.regimen.sessions if s.phase != "induction"]
    assert after, "maintenance sessions are scheduled"
    gaps = np.diff([max(s.day for s in trd_plan.regimen.sessions if s.phase == "induction"), *after])
    assert np.all(gaps <= m.chosen_interval_days + 1e-9)
    assert trd_plan.regimen.maintenance_interval_days == m.chosen_interval_days
    f = trd_plan.forecast
    assert f is not None and f.schedule_days == days
    assert f.suggested_maintenance_interval_days == m.chosen_interval_days
    # the trade-off table: one row per allowed interval, fewer sessions as the interval widens
    per_month = [o.sessions_per_month for o in sorted(m.options, key=lambda o: o.interval_days)]
    assert per_month == sorted(per_month, reverse=True) and len(set(per_month)) > 1
    chosen = next(o for o in m.options if o.interval_days == m.chosen_interval_days)
    keeping = [o for o in m.options if (o.stay_in_response_probability or 0) >= m.keep_response_probability]
    if keeping:  # the widest interval that keeps the level
        assert chosen.interval_days == max(o.interval_days for o in keeping)
    else:  # none keeps it: the narrowest, and the plan says so
        assert chosen.interval_days == min(o.interval_days for o in m.options) and "review" in m.reason


def test_the_forecast_shown_is_a_simulation_of_the_planned_schedule(trd_plan: Plan) -> None:
    """Re-simulating the copies with the plan's own sessions gives the forecast's median."""
    p = load_patient(EXAMPLES / "trd_iv_ketamine.yaml")
    regimen = plan_regimen(p).with_interval(trd_plan.regimen.maintenance_interval_days)
    assert [s.day for s in regimen.sessions] == trd_plan.forecast.schedule_days  # type: ignore[union-attr]
    params = default_parameters()
    pop = copies(p, COPIES)
    sim = simulate_copies(p, regimen, pop, params, escalation_multipliers(p, regimen, pop, params))
    from ketasim.clinic.forecast import likelihood_weights, weighted_quantiles

    median = weighted_quantiles(sim.scores, likelihood_weights(p, sim, params), (0.5,))[0]
    assert trd_plan.forecast is not None
    assert np.allclose(np.round(median, 3), trd_plan.forecast.median, atol=1e-9)


def test_the_trade_off_is_judged_on_the_same_weekly_ratings_for_every_interval(trd_plan: Plan) -> None:
    """Each row of the trade-off table, recomputed copy by copy with plain loops from a fresh
    simulation of that interval: response the day after induction, then every 7 days from the
    end of induction to the horizon (pre-dose on a session day), the same days for all rows."""
    from ketasim.clinic.forecast import likelihood_weights

    m = trd_plan.maintenance
    assert m is not None and m.options
    p = load_patient(EXAMPLES / "trd_iv_ketamine.yaml")
    params = default_parameters()
    pop = copies(p, COPIES)
    regimen = plan_regimen(p)
    end = regimen.end_of_induction_day
    expected_days = [end + 1.0] + [end + 7.0 * k for k in range(1, 100) if end + 7.0 * k <= regimen.horizon_day]
    assert m.rating_every_days == 7.0 and m.rating_days == expected_days
    baseline = p.baseline_scores["MADRS"]
    for option in m.options:
        laid = regimen.with_interval(option.interval_days)
        sim = simulate_copies(p, laid, pop, params, escalation_multipliers(p, laid, pop, params))
        w = likelihood_weights(p, sim, params)
        day_index = {float(d): i for i, d in enumerate(sim.days)}
        responders = kept = share = 0.0
        for c in range(pop.n):
            seen = [sim.scores[c, day_index[d]] <= 0.5 * baseline for d in expected_days]
            share += w[c] * sum(seen) / len(seen)
            if seen[0]:
                responders += w[c]
                kept += w[c] * all(seen)
        assert option.ratings_in_response_share == pytest.approx(share / w.sum(), abs=1e-3)
        if responders > 1e-9:
            assert option.stay_in_response_probability == pytest.approx(kept / responders, abs=1e-3)
        else:
            assert option.stay_in_response_probability is None
        assert 0.0 <= option.ratings_in_response_share <= 1.0


@given(interval=st.sampled_from([7.0, 14.0, 21.0, 28.0, 35.0, 42.0]), horizon=st.integers(20, 120))
@settings(max_examples=30, deadline=None)
def test_sessions_after_induction_never_leave_a_gap_wider_than_the_interval(interval: float, horizon: int) -> None:
    from dataclasses import replace

    regimen = plan_regimen(parse_patient(patient()))
    laid = replace(regimen, horizon_day=regimen.end_of_induction_day + horizon).with_interval(interval)
    days = [s.day for s in laid.sessions]
    assert days == sorted(days)
    gaps = np.diff(days[len(laid.induction) - 1 :])
    assert np.all(gaps <= interval + 1e-9)
    assert all(s.day <= laid.horizon_day + 1e-9 for s in laid.sessions)
    if gaps.size:
        assert gaps[-1] == interval or days[-1] + interval > laid.horizon_day  # tapers reach the interval


def test_no_improvement_by_the_end_of_induction_is_reviewed_or_stopped() -> None:
    flat = parse_patient(patient(observed_scores=scores((2, 33), (7, 34), (12, 32))))
    plan = plan_patient(flat, copies=COPIES)
    review = plan.course_review
    assert review is not None and review.status in ("review", "stop")
    assert review.reasons and review.sources and all(r.endswith(".") for r in review.reasons)
    assert review.sessions_given == 6
    if review.status == "stop":  # nothing after induction is planned
        assert all(s.phase == "induction" for s in plan.regimen.sessions)
        assert plan.maintenance is not None and plan.maintenance.chosen_interval_days is None
    responder = plan_patient(parse_patient(patient(observed_scores=scores((2, 20), (7, 14), (12, 10)))), copies=COPIES)
    assert responder.course_review is not None and responder.course_review.status == "continue"


@pytest.mark.parametrize(
    ("obs", "route", "status"),
    [
        (((5, 30),), IV, "continue"),  # two sessions: too early to judge
        (((9, 31),), IV, "review"),  # four infusions, < 25% better
        (((12, 20),), IV, "review"),  # end of induction: partial (39%)
        (((12, 30),), IV, "stop"),  # end of induction: no benefit (9%)
        (((12, 15),), IV, "continue"),  # responded
        (((4, 33),), ESK, "continue"),  # esketamine: early non-response is not a stop (Turkoz 2021)
        (((25, 31),), ESK, "stop"),
        (((25, 22),), ESK, "review"),
    ],
)
def test_review_rules_by_sessions_and_improvement(
    obs: tuple[tuple[float, float], ...], route: dict[str, str], status: str
) -> None:
    p = parse_patient(patient(treatment=route, observed_scores=scores(*obs)))
    assert course_review(p, plan_regimen(p)).status == status


def test_a_stricter_partial_threshold_turns_a_partial_response_into_no_benefit() -> None:
    obs = scores((12, 22))  # 33%
    base = parse_patient(patient(observed_scores=obs))
    strict = parse_patient(patient(observed_scores=obs, planning={"partial_response_fraction": 0.4}))
    assert course_review(base, plan_regimen(base)).status == "review"
    assert course_review(strict, plan_regimen(strict)).status == "stop"


def test_every_review_rule_has_a_source_and_a_reason_that_formats() -> None:
    for rule in review_rules().rules:
        assert rule.source and rule.reason.format(sessions=3, improvement="10%")


def test_escalation_is_simulated_for_copies_not_in_response() -> None:
    p = parse_patient(patient())
    regimen = plan_regimen(p)
    params = default_parameters()
    pop = copies(p, COPIES)
    m = escalation_multipliers(p, regimen, pop, params)
    assert m.shape == (COPIES, len(regimen.induction))
    assert np.all(np.diff(m, axis=1) >= 0)  # never stepped down
    assert set(np.unique(np.round(m, 9))) <= {1.0, 1.5, 2.0}  # 0.5 → 0.75 → 1.0 mg/kg
    assert np.all(m[:, :3] == 1.0)  # the first step comes after session 3
    escalated = m[:, -1] > 1
    assert 0 < escalated.mean() < 1
    # the copies left at the starting dose were in response before the step's session
    sim = simulate_copies(p, regimen.with_interval(None), pop, params, m)
    from ketasim.vocabulary import scale

    before_4 = np.searchsorted(sim.days, regimen.induction[3].day)
    responded = scale("MADRS").responded(sim.scores[:, before_4], 33.0)
    assert np.all(responded[m[:, 3] == 1.0])
    none = parse_patient(patient(planning={"escalation": []}))
    assert np.all(escalation_multipliers(none, plan_regimen(none), pop, params) == 1.0)


def test_escalation_improves_the_course_of_every_copy_it_steps_up() -> None:
    """Each copy's course with its escalated doses is no worse on any day than the same copy's
    at the starting dose, and better after the step for the copies stepped up.  (The weighted
    forecast of a partial responder is not compared: the observed scores reweight the copies
    differently once their courses differ, and with the 2026-12-07 fit, whose dose-response is
    nearly flat above 0.5 mg/kg, the two response probabilities differ by Monte Carlo noise.)"""
    obs = scores((5, 24), (9, 22))
    p = parse_patient(patient(observed_scores=obs))
    regimen = plan_regimen(p).with_interval(None)
    params = default_parameters()
    pop = copies(p, COPIES)
    m = escalation_multipliers(p, regimen, pop, params)
    stepped = simulate_copies(p, regimen, pop, params, m).scores
    flat = simulate_copies(p, regimen, pop, params, np.ones_like(m)).scores
    assert np.all(stepped <= flat + 1e-9)
    up = m[:, -1] > 1
    assert up.any() and np.all((flat - stepped)[up].max(axis=1) > 0)
    with_steps = plan_patient(p, copies=COPIES)
    without = plan_patient(parse_patient(patient(observed_scores=obs, planning={"escalation": []})), copies=COPIES)
    assert with_steps.forecast is not None and without.forecast is not None
    assert with_steps.regimen.escalation and not without.regimen.escalation


def test_esketamine_without_an_oral_antidepressant_gets_a_finding_and_with_one_does_not() -> None:
    def rules(**changes: Any) -> set[str]:
        from ketasim.clinic.rules import screen

        p = parse_patient(patient(treatment=ESK, **changes))
        return {f.rule for f in screen(p, "esketamine", "intranasal")}

    assert "esketamine_oral_antidepressant" in rules()
    assert "esketamine_oral_antidepressant" in rules(oral_antidepressant="none")
    assert "esketamine_oral_antidepressant" not in rules(oral_antidepressant="ssri")


def test_bipolar_patient_gets_the_mania_warning_and_ymrs_before_each_session() -> None:
    p = parse_patient(patient(diagnoses=["bipolar_depression"]))
    plan = plan_patient(p, copies=COPIES)
    assert "bipolar_mania_switch" in {f.rule for f in plan.findings}
    ymrs = [m for m in plan.measurement if m.instrument == "YMRS"]
    assert ymrs and all("before each session" in m.when for m in ymrs)
    assert not any(m.instrument == "YMRS" for m in plan_patient(parse_patient(patient()), copies=COPIES).measurement)


def test_esketamine_weeks_five_to_eight_are_the_labels_weekly_maintenance() -> None:
    plan = plan_patient(parse_patient(patient(treatment=ESK, oral_antidepressant="ssri")), copies=COPIES)
    by_day = {s.day: s for s in plan.regimen.sessions}
    for day in (28, 35, 42, 49):
        assert by_day[day].phase == "maintenance" and "weeks 5-8" in by_day[day].label
    assert all(s.phase != "taper" for s in plan.regimen.sessions)
    assert all(s.duration_min is None for s in plan.regimen.sessions)  # no "0 min" for a spray
    assert plan.maintenance is not None and plan.maintenance.chosen_interval_days in (7.0, 14.0)
    rows = [m for m in plan.monitoring if m.session == 1 and m.hold_probability is not None]
    assert any(m.t_min == 40.0 and "40 min after dosing" in m.action for m in rows)
    assert any(m.t_min == 120.0 and "before discharge" in m.action for m in rows)


@pytest.mark.parametrize(
    ("route", "doses_per_kg", "days"),
    [
        ("oral", [1.0] * 9, [0, 2, 4, 7, 9, 11, 14, 16, 18]),
        ("im", [0.1, 0.2, 0.3, 0.4, 0.5], [0, 7, 14, 21, 28]),
    ],
)
def test_off_label_plans_follow_their_published_schedule(
    route: str, doses_per_kg: list[float], days: list[float]
) -> None:
    plan = plan_patient(parse_patient(patient(treatment={"drug": "racemic_ketamine", "route": route})), copies=COPIES)
    r = plan.regimen
    assert r.off_label and any("off-label" in n for n in r.notes)
    induction = [s for s in r.sessions if s.phase == "induction"]
    assert [s.day for s in induction] == days
    assert [s.dose_mg_per_kg for s in induction] == pytest.approx(doses_per_kg)
    assert plan.forecast is not None and plan.session_predictions
    assert all(p.minimum_observation_min >= 60 for p in plan.session_predictions)


def test_sublingual_plan_is_lara_2013() -> None:
    plan = plan_patient(
        parse_patient(patient(treatment={"drug": "racemic_ketamine", "route": "sublingual"})), copies=COPIES
    )
    induction = [s for s in plan.regimen.sessions if s.phase == "induction"]
    assert {s.dose_mg for s in induction} == {10.0} and np.all(np.diff([s.day for s in induction]) == 3)
    assert plan.regimen.off_label


def test_bp_hold_probabilities_match_a_monte_carlo_of_cuff_readings() -> None:
    """The analytic hold probability (normal reading error over the weighted copies) against
    sampled readings: an independent oracle."""
    from ketasim.clinic.forecast import Course, likelihood_weights
    from ketasim.clinic.monitoring import session_predictions

    p = parse_patient(
        patient(vitals={"systolic_mmhg": 150, "diastolic_mmhg": 92, "heart_rate_bpm": 72, "spo2_pct": 98})
    )
    params = default_parameters()
    regimen = plan_regimen(p).with_interval(None)
    pop = copies(p, COPIES)
    sim = simulate_copies(p, regimen, pop, params)
    course = Course(sim, sim, likelihood_weights(p, sim, params), pop.n)
    pred = session_predictions(p, regimen, course, params)[0]
    sd_s, sd_d = float(params["sbp_reading_sd_mmhg"]), float(params["dbp_reading_sd_mmhg"])
    rng = np.random.default_rng(7)
    draws = 4000
    s = sim.sbp_mmhg[:, 0, 0][:, None] + sd_s * rng.standard_normal((pop.n, draws))
    d = sim.dbp_mmhg[:, 0, 0][:, None] + sd_d * rng.standard_normal((pop.n, draws))
    mc = float(np.mean((s > 140) | (d > 90)))
    assert pred.predose_hold_probability == pytest.approx(mc, abs=0.01)
    assert 0.0 <= pred.severe_bp_probability <= 1.0 and 0.0 <= pred.not_ready_at_minimum_probability <= 1.0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"planning": {"keep_response_probability": 1.5}}, "planning.keep_response_probability"),
        ({"planning": {"keep_response_probability": True}}, "planning.keep_response_probability"),
        ({"planning": {"partial_response_fraction": -0.1}}, "planning.partial_response_fraction"),
        ({"planning": {"escalation": [1.5]}}, "planning.escalation[0]"),
        ({"planning": {"escalation": [0.75, 0.6]}}, "planning.escalation[1]"),
        ({"treatment": ESK, "planning": {"escalation": [112]}}, "planning.escalation[0]"),
        ({"treatment": ESK, "planning": {"escalation": [70]}}, "planning.escalation[0]"),
        (
            {"treatment": {"drug": "racemic_ketamine", "route": "oral"}, "planning": {"escalation": [2.0]}},
            "planning.escalation",
        ),
        ({"observed_scores": scores((-1, 20))}, "observed_scores[0].day"),
        ({"observed_scores": [{"day": 3, "scale": "Y-BOCS", "score": 20}]}, "observed_scores[0].scale"),
        ({"observed_scores": scores((3, 61))}, "observed_scores[0].score"),
        ({"oral_antidepressant": "aspirin"}, "oral_antidepressant"),
    ],
)
def test_bad_planning_input_exits_2_naming_the_field(tmp_path: Path, change: dict[str, Any], field: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(patient(**change)), encoding="utf-8")
    report = tmp_path / "r.html"
    result = runner.invoke(app, ["plan", str(path), "--report", str(report)])
    assert result.exit_code == 2, result.output
    assert field in result.output
    assert "Traceback" not in result.output
    assert not report.exists()
    with pytest.raises(PlannerError):
        plan_patient(parse_patient(patient(**change)), copies=COPIES)


def test_report_is_dated_with_observed_scores_review_trade_off_and_print_styles(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(patient(observed_scores=scores((2, 22), (7, 19)))), encoding="utf-8")
    report = tmp_path / "plan.html"
    result = runner.invoke(app, ["plan", str(path), "--format", "json", "--report", str(report)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert {"planned_on", "course_review", "maintenance", "measurement"} <= set(doc)
    assert set(doc["course_review"]) >= {"status", "reasons", "sources"}
    text = report.read_text(encoding="utf-8")
    assert f"Plan dated {doc['planned_on']}" in text
    assert "Observed scores" in text and "<td>22</td>" in text and "-33%" in text
    assert "Course review" in text and "Maintenance" in text and "sessions a month" in text
    assert "@media print" in text
    assert "does not replace clinical judgement" in text
