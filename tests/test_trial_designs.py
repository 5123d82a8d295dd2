"""Trials as they are run: populations, comparator arms, adaptive courses, randomised
withdrawal, crossover periods, modelled dropout, the endpoints papers report (with oracles)
and the new scales."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import yaml
from scipy import optimize, stats
from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.errors import TrialError
from ketasim.params import default_parameters
from ketasim.population import Demographics, sample_population
from ketasim.trials.conduct import conduct
from ketasim.trials.design import parse_design
from ketasim.trials.effects import cox_hazard_ratio, hedges_g, mmrm, standardised_change
from ketasim.trials.endpoints import ArmData, _cohort, _withdrawal_relapse, arm_endpoint, compare
from ketasim.trials.run import DROPOUT_REASONS, simulate_chunk
from ketasim.trials.trial import run_trial
from ketasim.vocabulary import condition, scale

runner = CliRunner(env={"COLUMNS": "300"})
PARAMS = default_parameters()
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "trials"
CHECK = {
    "name": "check",
    "condition": "trd",
    "scale": "MADRS",
    "population": {"age_mean": 70, "age_sd": 4, "age_min": 65, "age_max": 86, "setting": "outpatient"},
    "n_per_arm": 60,
    "arms": {
        "esketamine": {
            "treatment": [
                {
                    "kind": "ketamine",
                    "drug": "esketamine",
                    "route": "intranasal",
                    "dose_mg": 28,
                    "days": [0, 3, 7, 10, 14, 17, 21, 24],
                }
            ]
        },
        "ect": {"treatment": [{"kind": "ect", "sessions_per_week": 3, "max_sessions": 12}]},
    },
    "control": "ect",
    "assessment_days": [0, 1, 7, 14, 28],
    "endpoints": [
        {"type": "effect_size", "day": 28},
        {"type": "sessions_to_response"},
        {"type": "vital_sign", "measure": "sbp_peak_rise_mmhg"},
        {"type": "ae_discontinuation"},
    ],
}


def _design(**changes: Any) -> dict[str, Any]:
    d = json.loads(json.dumps(CHECK))
    d.update(changes)
    return d


def _cli(tmp_path: Path, design: dict[str, Any], *args: str) -> tuple[int, str]:
    path = tmp_path / "design.yaml"
    path.write_text(yaml.safe_dump(design), encoding="utf-8")
    result = runner.invoke(app, ["trial", str(path), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


# --- the design ---------------------------------------------------------------------------


def test_the_check_design_carries_every_endpoint(tmp_path: Path) -> None:
    code, out = _cli(tmp_path, CHECK, "--format", "json")
    assert code == 0, out
    doc = json.loads(out)
    for arm in ("esketamine", "ect"):
        endpoints = doc["arms"][arm]["endpoints"]
        assert set(endpoints) == {
            "effect_size_day_28",
            "sessions_to_response",
            "sbp_peak_rise_mmhg",
            "ae_discontinuation",
        }
        for name, e in endpoints.items():
            assert len(e["ci95"]) == 2
            if e["value"] is None:  # a median not reached: then its Kaplan-Meier curve never falls to one half
                assert e["curve"] is not None and min(e["curve"]["survival"]) > 0.5, (arm, name)
    g = doc["comparisons"]["effect_size_day_28"]
    assert g["statistic"].startswith("Hedges") and g["cohens_d"] is not None and len(g["ci95"]) == 2
    assert abs(g["difference"]) < abs(g["cohens_d"]) + 1e-9  # J < 1 shrinks d
    assert doc["arms"]["ect"]["endpoints"]["sbp_peak_rise_mmhg"]["value"] == 0  # said not modelled:
    assert any("ECT" in s for s in doc["not_yet_modelled"])
    assert doc["arms"]["esketamine"]["endpoints"]["sbp_peak_rise_mmhg"]["value"] > 0


# --- population ------------------------------------------------------------------------------------


def test_population_ages_and_flags() -> None:
    design = parse_design(
        _design(
            population={
                "age_mean": 70,
                "age_sd": 4,
                "age_min": 65,
                "age_max": 86,
                "setting": "inpatient",
                "suicidal_ideation_at_entry": 0.4,
                "lead_in": True,
            }
        )
    )
    pop = sample_population(20_000, 1, "trd", {"MADRS": 32}, demographics=design.population.demographics())
    age = pop.covariates.age_years
    assert age.min() >= 65 and age.max() <= 86
    expected = stats.truncnorm((65 - 70) / 4, (86 - 70) / 4, loc=70, scale=4)
    assert stats.kstest(age, expected.cdf).pvalue > 1e-3
    assert np.mean(pop.suicidal_ideation) == pytest.approx(0.4, abs=0.02)
    assert pop.lead_in  # the design's lead-in reaches the placebo's context (gains)
    assert design.not_yet_modelled()[:2] == ["population.setting", "population.suicidal_ideation_at_entry"]


def test_older_population_changes_exposure_through_pk() -> None:
    """Age reaches the model through the PK covariates: older patients, higher exposure."""
    young = sample_population(
        400, 2, "trd", {"MADRS": 32}, demographics=Demographics(age_mean=30, age_sd=3, age_min=18, age_max=40)
    )
    old = sample_population(
        400, 2, "trd", {"MADRS": 32}, demographics=Demographics(age_mean=80, age_sd=3, age_min=65, age_max=95)
    )
    from ketasim.model import expose
    from ketasim.regimens import KetamineSessions

    item = [KetamineSessions(drug="esketamine", route="intranasal", dose_mg=56, days=(0,))]
    auc = [
        np.trapezoid(
            expose(item, p.covariates, 24.0, params=PARAMS, pk_etas=p.pk_etas).states["nmda_occupancy"], dx=1.0, axis=1
        ).mean()
        for p in (young, old)
    ]
    assert auc[1] > auc[0]


# --- dropout ------------------------------------------------------------------------------------------


def test_fixed_dropout_has_only_other_reasons() -> None:
    design = parse_design(_design(dropout_model="fixed", dropout_fraction=0.3, n_per_arm=400))
    r = simulate_chunk(design, "esketamine", 0, 0, 400, PARAMS)
    assert set(np.unique(r.dropout_reason)) <= {0, 1}
    left = np.mean(np.isfinite(r.dropout_day) & (r.dropout_day <= 28))
    assert left == pytest.approx(0.3, abs=4 * math.sqrt(0.3 * 0.7 / 400))


def test_placebo_ae_discontinuation_is_the_placebo_course_rate() -> None:
    """A placebo arm's AE discontinuation is binomial with 1 − (1 − q₀)⁸ (TRANSFORM-2's 0.9%)."""
    n = 4000
    design = parse_design(
        _design(
            n_per_arm=n,
            arms={"placebo": {"treatment": [{"kind": "placebo", "days": [0, 3, 7, 10, 14, 17, 21, 24]}]}},
            control=None,
            endpoints=[{"type": "ae_discontinuation"}],
        )
    )
    leaving = sum(
        int(np.sum(simulate_chunk(design, "placebo", 0, c, 1000, PARAMS).dropout_reason == 2)) for c in range(4)
    )
    p = 1 - (1 - conduct(PARAMS).ae_placebo_per_session) ** 8
    assert p == pytest.approx(0.009, abs=1e-6)
    assert stats.binomtest(leaving, n, p).pvalue > 1e-3


def test_ae_discontinuation_grows_with_dose() -> None:
    rates = []
    for dose in (28, 56, 84):
        arm = {
            "treatment": [
                {
                    "kind": "ketamine",
                    "drug": "esketamine",
                    "route": "intranasal",
                    "dose_mg": dose,
                    "days": [0, 3, 7, 10, 14, 17, 21, 24],
                }
            ]
        }
        design = parse_design(
            _design(
                n_per_arm=3000, arms={"a": arm}, control=None, endpoints=[{"type": "ae_discontinuation"}], population={}
            )
        )
        rates.append(np.mean(simulate_chunk(design, "a", 0, 0, 1500, PARAMS).dropout_reason == 2))
    assert rates[0] < rates[1] < rates[2]
    # a typical TRANSFORM-2 patient on 84 mg: 7% over 8 sessions; the population spreads it
    assert 0.03 < rates[2] < 0.12


# --- endpoints on hand-made data: oracles ------------------------------------------------------------


def _arm(observed: np.ndarray, baseline: np.ndarray, **extra: Any) -> ArmData:
    seen = np.isfinite(observed)
    last = np.where(seen.any(axis=1), seen.shape[1] - 1 - np.argmax(seen[:, ::-1], axis=1), 0)
    idx = np.where(seen, np.arange(observed.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    n = observed.shape[0]
    return ArmData(
        baseline=baseline,
        scores=np.take_along_axis(observed, idx, axis=1),
        observed=observed,
        last_seen=last.astype(np.intp),
        events={},
        patient=np.arange(n),
        dropout_reason=extra.get("reason", np.zeros(n, np.int8)),
        sessions_before=extra.get("sessions", np.zeros(observed.shape)),
        vitals=extra.get("vitals", {}),
    )


def test_hedges_g_by_hand() -> None:
    a = np.array([-12.0, -15, -9, -20, -11, -14])
    c = np.array([-6.0, -9, -4, -10, -7])
    n1, n2 = a.size, c.size
    sp = math.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * c.var(ddof=1)) / (n1 + n2 - 2))
    d = (a.mean() - c.mean()) / sp
    g = d * (1 - 3 / (4 * (n1 + n2) - 9))
    se = math.sqrt((n1 + n2) / (n1 * n2) + g**2 / (2 * (n1 + n2)))
    got, cohen = hedges_g(a, c)
    assert cohen == pytest.approx(d, rel=1e-12) and got.difference == pytest.approx(g, rel=1e-12)
    assert got.ci95 == pytest.approx((g - 1.959963984540054 * se, g + 1.959963984540054 * se), rel=1e-12)
    assert got.p_value == pytest.approx(stats.ttest_ind(a, c).pvalue, rel=1e-9)  # pooled t-test
    dz = standardised_change(a)
    assert dz.value == pytest.approx(a.mean() / a.std(ddof=1))


def test_hazard_ratio_against_statsmodels_and_an_independent_partial_likelihood() -> None:
    rng = np.random.default_rng(4)
    n = 300
    treated = rng.random(n) < 0.5
    time = rng.exponential(np.where(treated, 2.0, 1.0))
    censor = rng.exponential(3.0, n)
    event = time <= censor
    t = np.minimum(time, censor)
    got = cox_hazard_ratio(t, event, treated)
    from statsmodels.duration.hazard_regression import PHReg

    fit = PHReg(t, treated.astype(float)[:, None], status=event.astype(float), ties="efron").fit()
    assert got.difference == pytest.approx(math.exp(fit.params[0]), rel=1e-10)

    def negative_log_partial_likelihood(beta: float) -> float:  # no ties: Cox 1972 by hand
        x = treated.astype(float)
        order = np.argsort(t)
        xs, es = x[order], event[order]
        risk = np.cumsum((np.exp(beta * xs))[::-1])[::-1]
        return -float(np.sum(es * (beta * xs - np.log(risk))))

    beta = optimize.minimize_scalar(negative_log_partial_likelihood, bounds=(-5, 5), method="bounded").x
    assert got.difference == pytest.approx(math.exp(beta), rel=1e-4)
    assert got.ci95[0] < got.difference < got.ci95[1] and got.difference < 0.75  # true HR 0.5


def test_mmrm_against_statsmodels_formula() -> None:
    rng = np.random.default_rng(8)
    n, days = 80, np.array([7.0, 14.0, 28.0])
    groups = np.repeat([0, 1], n // 2)
    baseline = rng.normal(32, 5, n)
    patient_effect = rng.normal(0, 3, n)
    change = (
        -np.array([4.0, 7.0, 10.0])[None, :]
        - 3.0 * groups[:, None] * (days[None, :] / 28)
        + patient_effect[:, None]
        + 0.2 * (baseline[:, None] - 32)
        + rng.normal(0, 4, (n, 3))
    )
    change[rng.random((n, 3)) < 0.1] = np.nan
    estimates, comparisons = mmrm(change, baseline, days, groups.tolist(), 28.0)
    rows = pd.DataFrame(
        {
            "change": change.ravel(),
            "day": np.tile(days, n).astype(int).astype(str),
            "treated": np.repeat(groups, 3),
            "base": np.repeat(baseline - baseline.mean(), 3),
            "patient": np.repeat(np.arange(n), 3),
        }
    ).dropna()
    fit = smf.mixedlm("change ~ 0 + C(day) + C(day):treated + base", rows, groups=rows["patient"]).fit(reml=True)
    assert comparisons[0].difference == pytest.approx(fit.params["C(day)[28]:treated"], rel=1e-5)
    assert comparisons[0].ci95[1] - comparisons[0].ci95[0] == pytest.approx(
        2 * 1.959963984540054 * fit.bse["C(day)[28]:treated"], rel=1e-4
    )
    assert estimates[0].value == pytest.approx(fit.params["C(day)[28]"], rel=1e-5)


def test_sessions_to_response_any_time_and_vitals_by_hand() -> None:
    design = parse_design(
        _design(
            endpoints=[
                {"type": "sessions_to_response"},
                {"type": "response_any_time", "until_day": 14},
                {"type": "vital_sign", "measure": "rise_at_least_40_25"},
                {"type": "vital_sign", "measure": "sbp_at_least_180"},
                {"type": "ae_discontinuation"},
            ]
        )
    )
    observed = np.array(
        [
            [30.0, 20, 14, 10, 9],  # responds at day 7 after 3 sessions
            [30.0, 28, 25, np.nan, np.nan],  # never, left after day 7 (AE)
            [30.0, 14, 20, 18, 25],  # responds at day 1 after 1 session
            [30.0, 29, 27, 20, 14],  # responds only at day 28: not by day 14
        ]
    )
    sessions = np.array([[0, 1, 3, 5, 8]] * 4, dtype=float)
    vitals = {
        "sbp_peak_rise_mmhg": np.array([10.0, 41, 5, 0]),
        "dbp_peak_rise_mmhg": np.array([26.0, 3, 5, 0]),
        "sbp_peak_mmhg": np.array([150.0, 181, 130, 120]),
        "dbp_peak_mmhg": np.array([95.0, 80, 80, 70]),
    }
    d = _arm(observed, np.full(4, 30.0), sessions=sessions, vitals=vitals, reason=np.array([0, 2, 0, 0], np.int8))
    e = dict(zip(["sessions", "anytime", "rise", "sbp180", "ae"], design.endpoints, strict=True))
    km = arm_endpoint(design, e["sessions"], d)
    assert km.curve is not None and km.curve.days[:4] == [0.0, 1.0, 2.0, 3.0]
    # events at 1, 3, 8 sessions; patient 2 censored at 3 sessions (day 7): median = 3
    assert km.value == 3.0
    assert arm_endpoint(design, e["anytime"], d).value == pytest.approx(0.5)
    assert arm_endpoint(design, e["rise"], d).value == pytest.approx(0.5)
    assert arm_endpoint(design, e["sbp180"], d).value == pytest.approx(0.25)
    assert arm_endpoint(design, e["ae"], d).value == pytest.approx(0.25)
    assert compare(design, e["ae"], d, d).difference == 0.0


def test_withdrawal_cohort_and_relapse_rule_by_hand() -> None:
    days = [0, 7, 14, 21, 28, 35, 42, 56, 70]
    design = parse_design(
        _design(
            assessment_days=days,
            withdrawal={
                "at_day": 28,
                "select": {"criterion": "stable_remitters", "score_at_most": 12, "visits": 3, "of_last": 4},
                "relapse": {"score_at_least": 22, "consecutive_visits": 2, "min_gap_days": 5, "max_gap_days": 10},
            },
            endpoints=[{"type": "hazard_ratio"}, {"type": "relapse_fraction"}, {"type": "relapse"}],
        )
    )
    observed = np.array(
        [
            [35.0, 12, 10, 11, 9, 22, 23, 10, 10],  # stable; relapses at 35 (35→42 gap 7)
            [35.0, 20, 10, 11, 9, 22, 10, 23, 24],  # stable (3 of last 4); 56→70 gap 14 > 10: no relapse
            [35.0, 20, 20, 11, 9, 30, 30, 30, 30],  # 2 of last 4: not selected
            [35.0, 10, 10, 10, 10, 10, 25, 26, np.nan],  # stable; 42→56 gap 14: not a relapse; left
        ]
    )
    d = _arm(observed, np.full(4, 35.0))
    np.testing.assert_array_equal(_cohort(design, d), [True, True, False, True])
    t, hit, _ = _withdrawal_relapse(design, d)
    np.testing.assert_array_equal(hit, [True, False, False])
    np.testing.assert_allclose(t, [7.0, 42.0, 28.0])  # from randomisation: event 35, censored at 70 and 56
    assert arm_endpoint(design, design.endpoints[1], d).value == pytest.approx(1 / 3)


def test_randomised_withdrawal_end_to_end() -> None:
    design = parse_design(
        _design(
            n_per_arm=150,
            population={"baseline_mean": 34},
            arms={
                "continue": {
                    "treatment": [
                        {
                            "kind": "ketamine",
                            "drug": "esketamine",
                            "route": "intranasal",
                            "dose_mg": 56,
                            "days": [0, 3, 7, 10, 14, 21, 28, 35, 42, 49, 56, 63, 70],
                        }
                    ]
                },
                "withdraw": {
                    "treatment": [
                        {
                            "kind": "ketamine",
                            "drug": "esketamine",
                            "route": "intranasal",
                            "dose_mg": 56,
                            "days": [0, 3, 7, 10, 14, 21],
                        },
                        {"kind": "placebo", "days": [28, 35, 42, 49, 56, 63, 70]},
                    ]
                },
            },
            control="withdraw",
            assessment_days=[0, 7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77],
            withdrawal={"at_day": 28, "select": {"criterion": "responders", "visits": 2, "of_last": 2}},
            endpoints=[{"type": "hazard_ratio"}, {"type": "relapse_fraction"}],
        )
    )
    s = run_trial(design, PARAMS).summary
    cont, wd = s.arms["continue"].endpoints["relapse_fraction"], s.arms["withdraw"].endpoints["relapse_fraction"]
    assert cont.value is not None and wd.value is not None and cont.value < wd.value
    hr = s.comparisons["hazard_ratio"]
    assert hr.statistic.startswith("hazard ratio") and hr.difference is not None and hr.difference < 1.0
    assert s.arms["continue"].endpoints["hazard_ratio"].among == s.arms["continue"].endpoints["hazard_ratio"].among


def test_crossover_periods_carry_over() -> None:
    """Period 2 starts from the patient's own rating; a long washout leaves period 2 like
    period 1, a short one carries the first arm's effect over."""

    def run(washout: float) -> tuple[np.ndarray, np.ndarray]:
        design = parse_design(
            {
                "name": "x",
                "condition": "trd",
                "scale": "MADRS",
                "n_per_arm": 400,
                "allocation": "crossover",
                "crossover": {"period_days": 7, "washout_days": washout},
                "dropout_model": "fixed",
                "arms": {
                    "ketamine": {"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 0.5, "days": [0]}]},
                    "saline": {"treatment": [{"kind": "placebo", "days": [0]}]},
                },
                "control": "saline",
                "assessment_days": [0, 1, 7],
                "endpoints": [{"type": "mean_change", "day": 1}],
            }
        )
        r = simulate_chunk(design, "saline", 0, 0, 400, PARAMS)
        second = r.patient % 2 == 0  # saline is listed second: sequence 0 has it in period 2
        return r.baseline[second], r.baseline[~second]

    short_second, first = run(0.0)
    long_second, _ = run(200.0)
    assert np.mean(short_second) < np.mean(first) - 2  # ketamine's week-1 effect carried into period 2
    assert abs(np.mean(long_second) - np.mean(first)) < abs(np.mean(short_second) - np.mean(first))


# --- scales -----------------------------------------------------------------------------------------------


def test_new_scales() -> None:
    expected = {"HAM-D6": (22, 0.5), "LSAS": (144, 0.35), "MADRS-SI": (6, 0.5), "C-SSRS-ISS": (5, 0.5)}
    for name, (top, drop) in expected.items():
        s = scale(name)
        assert (s.min, s.max, s.response_drop) == (0, top, drop) and s.direction == "lower_is_better"
        assert "assumed" in s.source or "NOT FOUND" in s.source or "Taylor" in s.source
    assert "LSAS" in condition("social_anxiety").scales
    assert {"HAM-D6", "MADRS-SI", "C-SSRS-ISS"} <= set(condition("trd").scales)
    design = parse_design(_design(scale="HAM-D6", n_per_arm=30, endpoints=[{"type": "remission", "day": 28}]))
    r = simulate_chunk(design, "esketamine", 0, 0, 30, PARAMS)
    finite = r.scores[np.isfinite(r.scores)]
    assert finite.min() >= 0 and finite.max() <= 22 and np.mean(r.baseline) == pytest.approx(11, abs=1.5)


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"withdrawal": {"at_day": 14}}, "withdrawal.select", "required"),
        (
            {"withdrawal": {"at_day": 15, "select": {"criterion": "responders"}}},
            "withdrawal.at_day",
            "not an assessment day",
        ),
        ({"population": {"age_min": 12}}, "population.age_min", "18"),
        ({"population": {"age_max": 120}}, "population.age_max", "100"),
        ({"arms": {"x": {"treatment": [{"kind": "tms", "days": [0]}]}}, "control": None}, "arms.x.treatment[0]", "ect"),
        ({"endpoints": [{"type": "hazard_ratio"}]}, "endpoints[0]", "withdrawal"),
        (
            {"endpoints": [{"type": "vital_sign", "measure": "heart_rate"}]},
            "endpoints[0].measure",
            "sbp_peak_rise_mmhg",
        ),
        ({"crossover": {"period_days": 28}}, "crossover", "allocation: crossover"),
    ],
)
def test_inconsistent_designs_are_refused(tmp_path: Path, change: dict[str, Any], field: str, words: str) -> None:
    design = _design(**change)
    code, out = _cli(tmp_path, design)
    assert code == 2, out
    assert field in out and words in out, out
    assert "Traceback" not in out
    with pytest.raises(TrialError):
        parse_design(design)


def test_rule_refusals_name_the_arm(tmp_path: Path) -> None:
    arm = {"kind": "ketamine", "drug": "esketamine", "route": "intranasal", "dose_mg": 56, "days": [0, 3, 7]}
    cases = [
        ({**arm, "escalate": {"to_mg": 112}}, "arms.esketamine.treatment[0].escalate.to_mg", "112"),
        (
            {**arm, "stop_when": {"remission": True, "scale": "HAM-D17"}},
            "arms.esketamine.treatment[0].stop_when.scale",
            "not rated",
        ),
    ]
    for item, field, words in cases:
        design = _design(arms={"esketamine": {"treatment": [item]}, "ect": CHECK["arms"]["ect"]})
        code, out = _cli(tmp_path, design)
        assert code == 2 and field in out and words in out, out


def test_every_example_design_parses() -> None:
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert len(files) >= 10
    kinds = set()
    for f in files:
        d = parse_design(yaml.safe_load(f.read_text(encoding="utf-8")))
        kinds |= {item.kind for arm in d.arms.values() for item in arm.treatment}
        kinds |= {"withdrawal"} if d.withdrawal else set()
        kinds |= {"crossover"} if d.crossover else set()
    assert {"ect", "withdrawal", "crossover"} <= kinds


def test_the_transform_examples_randomise_after_a_lead_in_and_synapse_does_not() -> None:
    """TRANSFORM-1/2/3 randomised the non-responders of a 4-week prospective phase (a larger
    placebo response, Jones et al. 2021); SYNAPSE added the spray to the current treatment."""

    def lead_in(name: str) -> bool:
        design = parse_design(yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8")))
        return design.population.demographics().lead_in

    assert lead_in("transform1_esketamine_plus_new_antidepressant")
    assert lead_in("transform2_esketamine_flexible_dose")
    assert lead_in("transform3_esketamine_older_adults")
    assert not lead_in("synapse_2018_esketamine_dose_finding")


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "elektd_2023_ketamine_vs_ect",
        "ketect_2022_stop_at_remission",
        "transform2_esketamine_flexible_dose",
        "transform3_esketamine_older_adults",
        "taylor_2018_social_anxiety_crossover",
    ],
)
def test_new_examples_run(tmp_path: Path, name: str) -> None:
    result = runner.invoke(app, ["trial", str(EXAMPLES / f"{name}.yaml"), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    for arm in doc["arms"].values():
        assert set(arm["dropout"]) == set(DROPOUT_REASONS[1:])
        for e in arm["endpoints"].values():
            assert "value" in e and len(e["ci95"]) == 2
