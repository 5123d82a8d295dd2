"""The clinical planner: rules, method and dose, monitoring, forecast and its update, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.clinic.dosing import plan_regimen
from ketasim.clinic.patient import parse_patient
from ketasim.clinic.plan import plan_patient
from ketasim.clinic.rules import compile_condition, default_rules, load_rules, parse_rules, screen
from ketasim.errors import PlannerError, RulesError
from ketasim.io.data import read_packaged_yaml
from ketasim.vocabulary import condition, names
from patients import ESK, base, vitals

runner = CliRunner(env={"COLUMNS": "300"})
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "patients"


TRIGGERS: dict[str, dict[str, Any]] = {
    "vascular_contraindication": {"history": ["aneurysmal_vascular_disease"]},
    "hypersensitivity": {"history": ["ketamine_hypersensitivity"]},
    "not_first_line": {"failed_antidepressant_trials": 0},
    "below_trd_definition": {"failed_antidepressant_trials": 1},
    "predose_bp_elevated": {"vitals": vitals(systolic_mmhg=165, diastolic_mmhg=100)},
    "uncontrolled_hypertension": {"history": ["uncontrolled_hypertension"]},
    "cardiovascular_disease": {"history": ["cardiovascular_disease"]},
    "psychosis": {"history": ["psychosis"]},
    "substance_use_disorder": {"history": ["substance_use_disorder"]},
    "pregnancy": {"sex": "female", "pregnant": True},
    "low_spo2": {"vitals": vitals(spo2_pct=92)},
    "heart_rate_out_of_range": {"vitals": vitals(heart_rate_bpm=130)},
    "hepatic_impairment": {"history": ["hepatic_impairment"]},
    "interstitial_cystitis": {"history": ["interstitial_cystitis"]},
    "sedating_comedication": {"concomitant_medications": ["opioids"]},
    "pressor_comedication": {"concomitant_medications": ["mao_inhibitors"]},
    "older_adult_esketamine": {"age_years": 70, "treatment": ESK},
    "obesity_weight_basis": {"weight_kg": 110},
    "bipolar_mood_stabiliser": {"diagnoses": ["bipolar_depression"]},
    "ptsd_distress": {"diagnoses": ["ptsd"], "baseline_scores": {"CAPS-5": 40}},
    "suicidal_ideation_course": {"diagnoses": ["suicidal_ideation"], "baseline_scores": {"BSS": 8}, "treatment": ESK},
    "esketamine_oral_antidepressant": {"treatment": ESK},
    "bipolar_mania_switch": {"diagnoses": ["bipolar_depression"]},
}
# changes close to each trigger that must NOT fire it (the other side of each threshold)
NEAR_MISSES: dict[str, dict[str, Any]] = {
    "not_first_line": {"failed_antidepressant_trials": 1},
    "below_trd_definition": {"failed_antidepressant_trials": 2},
    "predose_bp_elevated": {"vitals": vitals(systolic_mmhg=140, diastolic_mmhg=90)},
    "low_spo2": {"vitals": vitals(spo2_pct=95)},
    "heart_rate_out_of_range": {"vitals": vitals(heart_rate_bpm=120)},
    "older_adult_esketamine": {"age_years": 64, "treatment": ESK},
    "obesity_weight_basis": {"weight_kg": 94},
    "pregnancy": {"sex": "female", "pregnant": False},
    "esketamine_oral_antidepressant": {"treatment": ESK, "oral_antidepressant": "snri"},
}


def _fired(patient: dict[str, Any]) -> set[str]:
    p = parse_patient(patient)
    r = plan_regimen(p)
    return {f.rule for f in screen(p, r.drug, r.route)}


def test_every_packaged_rule_has_a_trigger_test() -> None:
    assert {r.id for r in default_rules().rules} == set(TRIGGERS)


def test_the_base_patient_triggers_nothing() -> None:
    assert _fired(base()) == set()


@pytest.mark.parametrize("rule", sorted(TRIGGERS))
def test_each_rule_fires_on_its_trigger(rule: str) -> None:
    assert rule in _fired(base(**TRIGGERS[rule]))


@pytest.mark.parametrize("rule", sorted(TRIGGERS))
def test_each_rule_stays_silent_otherwise(rule: str) -> None:
    assert rule not in _fired(base(**NEAR_MISSES.get(rule, {})))


def test_aneurysm_is_not_eligible_and_nothing_is_planned() -> None:
    doc = plan_patient(parse_patient(base(history=["aneurysmal_vascular_disease"])))
    assert doc.decision == "not_eligible" and doc.eligible is False
    assert doc.regimen.sessions == [] and doc.forecast is None
    assert any(f.severity == "absolute" and f.source for f in doc.findings)


def test_seventy_year_old_starts_esketamine_at_28_mg() -> None:
    r = plan_regimen(parse_patient(base(age_years=70, treatment=ESK)))
    assert r.sessions[0].dose_mg == 28 and r.sessions[0].day == 0
    assert all(s.dose_mg in (28, 56, 84) for s in r.sessions)
    younger = plan_regimen(parse_patient(base(age_years=50, treatment=ESK)))
    assert younger.sessions[0].dose_mg == 56


def test_high_predose_bp_gives_a_blood_pressure_finding() -> None:
    p = parse_patient(base(vitals=vitals(systolic_mmhg=165, diastolic_mmhg=100)))
    found = {f.rule: f for f in screen(p, "racemic_ketamine", "iv")}
    assert found["predose_bp_elevated"].severity == "relative"
    assert "140/90" in found["predose_bp_elevated"].message


def test_80_kg_adult_on_iv_gets_40_mg_over_40_min() -> None:
    r = plan_regimen(parse_patient(base()))
    induction = r.induction
    assert len(induction) == 6
    assert all(s.dose_mg == pytest.approx(40.0) and s.duration_min == 40 for s in induction)
    assert max(step.dose_mg_per_kg or 0.0 for step in r.escalation) <= 1.0


def test_no_failed_trial_is_not_recommended_first_line() -> None:
    doc_patient = parse_patient(base(failed_antidepressant_trials=0, treatment=None))
    r = plan_regimen(doc_patient)
    found = {f.rule: f for f in screen(doc_patient, r.drug, r.route)}
    assert found["not_first_line"].severity == "relative"
    assert r.drug == "racemic_ketamine"  # not esketamine: its TRD indication does not apply
    assert "not first-line" in found["not_first_line"].message


def test_proposed_method_follows_the_indication() -> None:
    assert plan_regimen(parse_patient(base(treatment=None))).drug == "esketamine"
    ptsd = base(treatment=None, diagnoses=["ptsd"], baseline_scores={"CAPS-5": 40})
    assert plan_regimen(parse_patient(ptsd)).route == "iv"
    si = base(treatment=None, diagnoses=["suicidal_ideation"], baseline_scores={"BSS": 8})
    assert {s.dose_mg for s in plan_regimen(parse_patient(si)).sessions} == {84}


def test_obese_patient_may_be_dosed_on_ideal_or_adjusted_weight() -> None:
    actual = plan_regimen(parse_patient(base(weight_kg=120)))
    ideal = plan_regimen(parse_patient(base(weight_kg=120, weight_basis="ideal")))
    adjusted = plan_regimen(parse_patient(base(weight_kg=120, weight_basis="adjusted")))
    assert ideal.sessions[0].dose_mg < adjusted.sessions[0].dose_mg < actual.sessions[0].dose_mg == 60.0


@settings(max_examples=1500, deadline=None)
@given(
    age=st.floats(18, 100),
    weight=st.floats(30, 250),
    height=st.floats(120, 230),
    female=st.booleans(),
    failed=st.integers(0, 30),
    diagnosis=st.sampled_from(["trd", "mdd", "bipolar_depression", "ptsd", "gad", "ocd", "suicidal_ideation"]),
    method=st.sampled_from([None, "iv", "intranasal"]),
    basis=st.sampled_from(["actual", "ideal", "adjusted"]),
)
def test_no_proposed_dose_leaves_the_published_bounds(
    age: float,
    weight: float,
    height: float,
    female: bool,
    failed: int,
    diagnosis: str,
    method: str | None,
    basis: str,
) -> None:
    scale = condition(diagnosis).default_scale
    treatment = None if method is None else ({"drug": "racemic_ketamine", "route": "iv"} if method == "iv" else ESK)
    p = parse_patient(
        base(
            age_years=age,
            weight_kg=weight,
            height_cm=height,
            sex="female" if female else "male",
            failed_antidepressant_trials=failed,
            diagnoses=[diagnosis],
            baseline_scores={scale: 10},
            treatment=treatment,
            weight_basis=basis,
        )
    )
    r = plan_regimen(p)
    for s in r.sessions:
        if r.route == "iv":
            assert s.duration_min == 40
            assert s.dose_mg_per_kg is not None and 0.5 <= s.dose_mg_per_kg <= 1.0
            assert s.dose_mg <= 1.0 * p.weight_kg + 1e-9
        else:
            assert s.dose_mg in (28, 56, 84)
    if r.route == "intranasal" and age >= 65 and diagnosis != "suicidal_ideation":
        assert r.sessions[0].dose_mg == 28
    for step in r.escalation:
        assert step.dose_mg <= (1.0 * p.weight_kg + 1e-9 if r.route == "iv" else 84)


def test_the_band_narrows_with_observed_scores() -> None:
    prior = plan_patient(parse_patient(base()), copies=200).forecast
    obs = [{"day": 1, "scale": "MADRS", "score": 20}, {"day": 4, "scale": "MADRS", "score": 16}]
    post = plan_patient(parse_patient(base(observed_scores=obs)), copies=200).forecast
    assert prior is not None and post is not None
    assert post.band_width_mean < 0.85 * prior.band_width_mean
    assert post.prior_band_width_mean == pytest.approx(prior.band_width_mean)
    assert post.effective_copies < prior.effective_copies
    assert 0.0 <= post.response_probability <= 1.0


def test_the_forecast_does_not_depend_on_how_the_copies_are_chunked() -> None:
    """The copies are simulated in chunks to bound memory: the chunk size changes nothing."""
    from ketasim.clinic.forecast import copies, simulate_copies
    from ketasim.params import default_parameters

    patient = parse_patient(base())
    regimen = plan_regimen(patient)
    pop = copies(patient, 60)
    induction = regimen.with_interval(None)
    one = simulate_copies(patient, induction, pop, default_parameters(), chunk=60)
    many = simulate_copies(patient, induction, pop, default_parameters(), chunk=7)
    assert one.scores == pytest.approx(many.scores, rel=1e-12, abs=1e-12)
    assert one.cadss == pytest.approx(many.cadss, rel=1e-12, abs=1e-12)


def test_plan_json_contract_and_report(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(base(treatment=ESK)), encoding="utf-8")
    report = tmp_path / "plan.html"
    result = runner.invoke(app, ["plan", str(path), "--format", "json", "--report", str(report)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert set(doc) >= {"eligible", "decision", "findings", "regimen", "monitoring", "forecast"}
    assert set(doc["regimen"]) >= {"drug", "route", "sessions"}
    assert set(doc["regimen"]["sessions"][0]) >= {"day", "dose_mg", "duration_min"}
    assert set(doc["monitoring"][0]) == {"session", "t_min", "action", "hold_probability"}
    f = doc["forecast"]
    assert len(f["days"]) == len(f["median"]) == len(f["p10"]) == len(f["p90"])
    assert all(lo <= m <= hi for lo, m, hi in zip(f["p10"], f["median"], f["p90"], strict=True))
    assert {"response_probability", "median_days_to_relapse"} <= set(f)
    assert any("pulse oximetry" in m["action"].lower() for m in doc["monitoring"])
    assert all(form["planned_monitoring_duration_min"] >= 120 for form in doc["rems_monitoring_forms"])
    text = report.read_text(encoding="utf-8")
    assert "does not replace clinical judgement" in text and "data:image/png;base64" in text
    assert "http://" not in text.split("<body>")[1].split("Findings")[0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weight_kg": None}, "weight_kg"),
        ({"age_years": None}, "age_years"),
        ({"vitals": vitals(systolic_mmhg=300)}, "vitals.systolic_mmhg"),
        ({"vitals": vitals(spo2_pct=120)}, "vitals.spo2_pct"),
        ({"diagnoses": ["flu"]}, "diagnoses[0]"),
        ({"history": ["broken_leg"]}, "history[0]"),
        ({"baseline_scores": {"MADRS": 70}}, "baseline_scores.MADRS"),
        ({"baseline_scores": {"XYZ": 3}}, "baseline_scores.XYZ"),
        ({"observed_scores": [{"day": -2, "scale": "MADRS", "score": 20}]}, "observed_scores[0].day"),
        ({"observed_scores": [{"day": 2, "scale": "MADRS", "score": 99}]}, "observed_scores[0].score"),
        ({"treatment": {"drug": "esketamine", "route": "iv"}}, "treatment.route"),
        ({"name": "J\u0007 Doe"}, "name: U+0007 is a control character"),
    ],
)
def test_bad_patient_files_exit_2_and_write_nothing(tmp_path: Path, change: dict[str, Any], field: str) -> None:
    data = base(**change)
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    report = tmp_path / "r.html"
    result = runner.invoke(app, ["plan", str(path), "--report", str(report)])
    assert result.exit_code == 2, result.output
    assert field in result.output
    assert not report.exists()


def test_unknown_flag_lists_the_allowed_ones() -> None:
    with pytest.raises(PlannerError) as err:
        parse_patient(base(history=["broken_leg"]))
    assert all(flag in str(err.value) for flag in names("history_flags"))


def test_rule_conditions_are_a_closed_language() -> None:
    with pytest.raises(RulesError, match="not a condition"):
        compile_condition({"eval": "1"}, "rules[0].when", {})


def _rules_with(when: Any, **thresholds: Any) -> dict[str, Any]:
    raw: dict[str, Any] = read_packaged_yaml("clinic/rules.yaml")
    raw["thresholds"].update(thresholds)
    raw["rules"] = [
        *raw["rules"],
        {"id": "clinic_rule", "when": when, "severity": "absolute", "message": "m", "source": "s"},
    ]
    return raw


def _nested(depth: int) -> dict[str, Any]:
    cond: dict[str, Any] = {"history_any": ["psychosis"]}
    for _ in range(depth):
        cond = {"not": cond}
    return cond


@pytest.mark.parametrize(
    ("when", "field", "fragment"),
    [
        ({"history_any": ["arteriovenous_malformaton"]}, "rules[21].when.history_any[0]", "arteriovenous_malformation"),
        ({"diagnosis_any": ["flu"]}, "rules[21].when.diagnosis_any[0]", "trd"),
        ({"concomitant_any": ["aspirin"]}, "rules[21].when.concomitant_any[0]", "opioids"),
        ({"drug": "cocaine"}, "rules[21].when.drug", "esketamine"),
        ({"route": "rectal"}, "rules[21].when.route", "intranasal"),
        ({"pregnant": "yes"}, "rules[21].when.pregnant", "true or false"),
        ({"compare": {"field": "shoe_size", "op": ">", "value": 3}}, "rules[21].when.compare.field", "bmi_kg_m2"),
        ({"compare": {"field": "age_years", "op": "=>", "value": 3}}, "rules[21].when.compare.op", ">="),
        (
            {"compare": {"field": "age_years", "op": ">", "threshold": "nope"}},
            "rules[21].when.compare.threshold",
            "nope",
        ),
        (
            {"compare": {"field": "age_years", "op": ">", "value": float("nan")}},
            "rules[21].when.compare.value",
            "finite",
        ),
        ({"compare": {"field": "age_years", "op": ">", "value": True}}, "rules[21].when.compare.value", "finite"),
        ({"any": []}, "rules[21].when.any", "non-empty"),
        ({"all": [{"eval": "x"}]}, "rules[21].when.all[0]", "not a condition"),
        (_nested(20), "rules[21].when", "nest more than 8"),
    ],
)
def test_a_rules_file_is_checked_when_it_is_read(when: Any, field: str, fragment: str) -> None:
    """A misspelt flag, an unknown field, operator or threshold, or too deep a nesting is
    refused on load, naming the rule — never silently ignored when a patient is planned."""
    with pytest.raises(RulesError) as err:
        parse_rules(_rules_with(when))
    fields = [f for f, _ in err.value.problems]
    added = f"rules[{len(default_rules().rules)}]"  # the clinic's rule comes after the packaged ones
    assert any(f.startswith(field.replace("rules[21]", added)) for f in fields), err.value.problems
    assert fragment in str(err.value) and "clinic_rule" in str(err.value)


def test_a_clinic_rules_file_with_a_misspelt_flag_is_refused_by_the_cli(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(_rules_with({"history_any": ["arteriovenous_malformaton"]})), encoding="utf-8")
    patient = tmp_path / "p.yaml"
    patient.write_text(yaml.safe_dump(base(history=["arteriovenous_malformation"])), encoding="utf-8")
    report = tmp_path / "r.html"
    result = runner.invoke(app, ["plan", str(patient), "--rules", str(rules), "--report", str(report)])
    assert result.exit_code == 2 and "arteriovenous_malformaton" in result.output and "--rules" in result.output
    assert not report.exists()
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(_rules_with({"history_any": ["arteriovenous_malformation"]})), encoding="utf-8")
    ok = runner.invoke(app, ["plan", str(patient), "--rules", str(good), "--format", "json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["decision"] == "not_eligible"


def test_a_rules_file_needs_the_thresholds_the_planner_reads(tmp_path: Path) -> None:
    raw = read_packaged_yaml("clinic/rules.yaml")
    del raw["thresholds"]["obesity_bmi_kg_m2"]
    with pytest.raises(RulesError, match="obesity_bmi_kg_m2"):
        parse_rules(raw)
    for content in (b"\x00\x01\x02binary", b"rules: [", b"!!python/object:os.system {}"):
        path = tmp_path / "r.yaml"
        path.write_bytes(content)
        with pytest.raises(RulesError):
            load_rules(path)


EXPECTED_DECISIONS = {
    "contraindicated_aneurysm.yaml": "not_eligible",
    "older_adult_esketamine.yaml": "eligible",
    "trd_iv_ketamine.yaml": "eligible",
    "trd_iv_no_improvement.yaml": "eligible",
}


def test_every_example_patient_has_its_expected_decision() -> None:
    assert set(EXPECTED_DECISIONS) == {p.name for p in EXAMPLES.glob("*.yaml")}
    for example, decision in EXPECTED_DECISIONS.items():
        result = runner.invoke(app, ["plan", str(EXAMPLES / example), "--format", "json"])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.output)
        assert doc["decision"] == decision, example
        assert (doc["forecast"] is None) == (decision == "not_eligible")


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(50, 400))
def test_weighted_quantiles_are_ordered_and_respect_weights(seed: int, n: int) -> None:
    import numpy as np

    from ketasim.clinic.forecast import weighted_quantiles

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    q = weighted_quantiles(x, np.full(n, 1.0 / n), (0.1, 0.5, 0.9))
    assert np.all(q[0] <= q[1]) and np.all(q[1] <= q[2])
    spacing = np.max(np.diff(np.sort(x, axis=0), axis=0), axis=0)
    assert np.all(np.abs(q[1] - np.median(x, axis=0)) <= spacing + 1e-12)
    w = np.where(x[:, 0] > 0, 1.0, 0.0)  # all weight on the positive half of column 0
    assert weighted_quantiles(x[:, :1], w, (0.1,))[0, 0] >= 0.0
