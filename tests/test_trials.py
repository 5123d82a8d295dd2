"""Virtual trials from the outside: `ketasim trial`, its JSON contract, Parquet, Dask and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.trials.design import TrialError, parse_design
from ketasim.trials.run import plan
from ketasim.trials.trial import run_trial

runner = CliRunner(env={"COLUMNS": "300"})
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "trials"


def small_design(**changes: Any) -> dict[str, Any]:
    design: dict[str, Any] = {
        "name": "small test trial",
        "condition": "trd",
        "scale": "MADRS",
        "n_per_arm": 60,
        "population": {"baseline_mean": 33},
        "dropout_fraction": 0.1,
        "arms": {
            "ketamine": {"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 0.5, "days": [0, 3, 7]}]},
            "saline": {"treatment": [{"kind": "placebo", "placebo": "saline", "days": [0, 3, 7]}]},
        },
        "control": "saline",
        "assessment_days": [0, 1, 4, 8, 15],
        "endpoints": [
            {"type": "mean_change", "day": 8},
            {"type": "response", "day": 8},
            {"type": "remission", "day": 15},
            {"type": "time_to_response"},
            {"type": "sustained_response", "from_day": 4, "to_day": 15},
            {"type": "relapse", "responders_at_day": 1},
            {"type": "adverse_event", "event": "nausea"},
        ],
    }
    design.update(changes)
    return design


def _write(tmp_path: Path, design: dict[str, Any], name: str = "trial.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(design), encoding="utf-8")
    return path


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_json_contract(tmp_path: Path) -> None:
    code, out = _run("trial", str(_write(tmp_path, small_design())), "--format", "json")
    assert code == 0, out
    doc = json.loads(out)
    assert set(doc["arms"]) == {"ketamine", "saline"}
    for arm in doc["arms"].values():
        assert arm["n"] == 60
        assert len(arm["endpoints"]) == 7
        for e in arm["endpoints"].values():
            assert set(e) >= {"value", "ci95"} and len(e["ci95"]) == 2
    for c in doc["comparisons"].values():
        assert set(c) == {"difference", "ci95", "p_value", "statistic", "cohens_d"}
    ket, sal = doc["arms"]["ketamine"]["endpoints"], doc["arms"]["saline"]["endpoints"]
    assert ket["mean_change_day_8"]["value"] < sal["mean_change_day_8"]["value"]
    lo, hi = ket["response_day_8"]["ci95"]
    assert lo <= ket["response_day_8"]["value"] <= hi
    assert doc["comparisons"]["mean_change_day_8"]["p_value"] < 0.05


def test_table_output_names_arms_and_disclaimer(tmp_path: Path) -> None:
    code, out = _run("trial", str(_write(tmp_path, small_design())))
    assert code == 0, out
    assert "ketamine (n=60)" in out and "does not replace clinical judgement" in out


def test_same_seed_same_result_and_seed_matters() -> None:
    design = parse_design(small_design(n_per_arm=40))
    a = run_trial(design, seed=5).summary
    b = run_trial(design, seed=5).summary
    c = run_trial(design, seed=6).summary
    assert a == b
    assert a.arms != c.arms


def test_dask_cluster_gives_the_local_result() -> None:
    from dask.distributed import LocalCluster

    design = parse_design(small_design(n_per_arm=30))
    local = run_trial(design, seed=11)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as c:
        remote = run_trial(design, seed=11, scheduler=c.scheduler_address)
    assert local.summary == remote.summary
    assert local.rows is not None and remote.rows is not None
    pd.testing.assert_frame_equal(local.rows.to_pandas(), remote.rows.to_pandas())


def test_parquet_rows_are_tidy(tmp_path: Path) -> None:
    out = tmp_path / "rows.parquet"
    code, text = _run("trial", str(_write(tmp_path, small_design())), "--out", str(out), "--format", "json")
    assert code == 0, text
    rows = pd.read_parquet(out)
    assert len(rows) == 2 * 60 * 5
    assert {"patient", "arm", "day", "scale", "score", "baseline", "responded", "observed"} <= set(rows.columns)
    day0 = rows[rows["day"] == 0]
    np.testing.assert_allclose(day0["score"], day0["baseline"])
    assert not rows.loc[~rows["observed"], "score"].notna().any()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.parquet", "trial.yaml"]


def test_replicates_give_power(tmp_path: Path) -> None:
    design = parse_design(small_design(n_per_arm=40, endpoints=[{"type": "mean_change", "day": 8}]))
    doc = run_trial(design, replicates=6).summary
    assert doc.replicates is not None
    power = doc.replicates.comparisons["mean_change_day_8"].power
    assert doc.replicates.n == 6 and power >= 0.8
    same = small_design(n_per_arm=40, endpoints=[{"type": "mean_change", "day": 8}])
    same["arms"]["saline"] = same["arms"]["ketamine"]
    null = run_trial(parse_design(same), replicates=10).summary
    assert null.replicates is not None and null.replicates.comparisons["mean_change_day_8"].power <= 0.4


def test_crossover_uses_the_same_patients() -> None:
    design = parse_design(small_design(allocation="crossover", n_per_arm=30))
    result = run_trial(design)
    assert result.rows is not None
    rows = result.rows.to_pandas()
    base = rows[rows["day"] == 0].pivot(index="patient", columns="arm", values="baseline")
    np.testing.assert_allclose(base["ketamine"], base["saline"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"n_per_arm": -5}, "n_per_arm"),
        ({"scale": "Y-BOCS"}, "scale"),
        ({"condition": "flu"}, "condition"),
        ({"arms": {"x": {"treatment": [{"kind": "aspirin", "days": [0]}]}}}, "arms.x.treatment[0]"),
        (
            {"control": None, "arms": {"x": {"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 5.0, "days": [0]}]}}},
            "arms.x.treatment[0].dose_mg_per_kg",
        ),
        ({"endpoints": [{"type": "response", "day": 9}]}, "endpoints[0].day"),
        ({"n_per_arm": 5_000_000}, "n_per_arm"),
        ({"control": "nobody"}, "control"),
        ({"n_per_arm": True}, "n_per_arm"),
        ({"assessment_days": [0, 1, float("nan")]}, "assessment_days[2]"),
        ({"dropout_fraction": float("inf")}, "dropout_fraction"),
        (
            {
                "control": None,
                "arms": {"ketamine": {"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 9.0, "days": [0]}]}},
            },
            "arms.ketamine.treatment[0].dose_mg_per_kg",
        ),
        (
            {
                "control": None,
                "arms": {"placebo": {"treatment": [{"kind": "placebo", "placebo": "sugar", "days": [0]}]}},
            },
            "arms.placebo.treatment[0].placebo",
        ),
    ],
)
def test_bad_designs_exit_2_naming_the_field(tmp_path: Path, change: dict[str, Any], field: str) -> None:
    out = tmp_path / "rows.parquet"
    code, text = _run("trial", str(_write(tmp_path, small_design(**change))), "--format", "json")
    assert code == 2, text
    assert field in text, text
    assert not out.exists()


def test_a_huge_trial_is_refused_unless_streamed(tmp_path: Path) -> None:
    design = parse_design(small_design(n_per_arm=3_000_000))
    with pytest.raises(TrialError, match="--out"):
        plan(design, replicates=1, to_file=False)
    assert plan(design, replicates=1, to_file=True).memory_mib < 2048


def test_bad_flags_exit_2(tmp_path: Path) -> None:
    path = str(_write(tmp_path, small_design()))
    for args in (["--out", str(tmp_path / "x.csv")], ["--workers", "0"], ["--replicates", "0"], ["--seed", "-1"]):
        code, text = _run("trial", path, *args)
        assert code == 2, (args, text)
    code, text = _run("trial", str(tmp_path / "missing.yaml"))
    assert code == 2 and "does not exist" in text


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_design_is_valid(example: str) -> None:
    design = parse_design(yaml.safe_load((EXAMPLES / example).read_text(encoding="utf-8")))
    assert design.source and design.control_arm is not None
    assert plan(design, replicates=1, to_file=False).chunk_size > 0


def test_a_rating_on_a_session_day_is_taken_before_that_days_dose() -> None:
    """Saline sessions on days 0 and 7: day 7's rating (pre-dose) matches the evening before,
    not the session's own expectancy kick; one day after the session the kick shows."""
    design = parse_design(
        small_design(
            n_per_arm=300,
            dropout_fraction=0.0,
            arms={"saline": {"treatment": [{"kind": "placebo", "placebo": "saline", "days": [0, 7]}]}},
            control=None,
            assessment_days=[0, 6.9, 7, 7.1],
            endpoints=[
                {"type": "mean_change", "day": 6.9},
                {"type": "mean_change", "day": 7},
                {"type": "mean_change", "day": 7.1},
            ],
        )
    )
    e = run_trial(design).summary.arms["saline"].endpoints
    before, at, after = (e[f"mean_change_day_{d}"].value for d in ("6.9", "7", "7.1"))
    assert before is not None and at is not None and after is not None
    assert abs(at - before) < 0.5
    assert after < at - 0.5


def test_blood_pressure_is_read_by_a_cuff_at_each_session_as_the_validation_reads_it() -> None:
    """Oracle: on saline the model's pressure curve is flat, so each patient's largest recorded
    rise is the largest, over the sessions, of (highest of the post-dose readings − the
    pre-dose reading), every reading with the fitted cuff error; an independent draw of that
    statistic must have the same distribution (two-sample KS) as the trial engine's."""
    from scipy import stats

    from ketasim.params import default_parameters
    from ketasim.pd.adverse import AdverseParameters
    from ketasim.trials.run import simulate_chunk

    design = parse_design(small_design(n_per_arm=1500, dropout_fraction=0.0, dropout_model="fixed"))
    params = default_parameters()
    chunk = simulate_chunk(design, "saline", 0, 0, 1500, params)
    adverse = AdverseParameters.from_params(params)
    rng = np.random.default_rng(2026)
    sessions, readings = 3, len(design.bp_readings_min)
    for key, sd in (("sbp_peak_rise_mmhg", adverse.sbp_reading_sd), ("dbp_peak_rise_mmhg", adverse.dbp_reading_sd)):
        e = sd * rng.standard_normal((200_000, sessions, readings))
        oracle = np.max(np.max(e[:, :, 1:], axis=2) - e[:, :, 0], axis=1)
        got = chunk.vitals[key]
        assert got.shape == (1500,)
        assert stats.ks_2samp(got, oracle).pvalue > 1e-3, key
    # one reading's systolic and diastolic errors share a draw (docs/model.md section 6): on a flat curve
    # every diastolic rise is the systolic one scaled by the ratio of the SDs
    ratio = adverse.dbp_reading_sd / adverse.sbp_reading_sd
    assert np.allclose(chunk.vitals["dbp_peak_rise_mmhg"], ratio * chunk.vitals["sbp_peak_rise_mmhg"])
    # each session's rise is kept (the statistics over sessions read them): its largest is the patient's
    for series in ("sbp", "dbp"):
        per_session = chunk.vitals[f"{series}_session_rise_mmhg"]
        assert per_session.shape == (1500, sessions)
        assert np.array_equal(np.max(per_session, axis=1), chunk.vitals[f"{series}_peak_rise_mmhg"])
    ketamine = simulate_chunk(design, "ketamine", 0, 0, 1500, params)
    assert np.mean(ketamine.vitals["sbp_peak_rise_mmhg"]) > np.mean(chunk.vitals["sbp_peak_rise_mmhg"]) + 3.0


@pytest.mark.parametrize("readings", [[10, 40], [0], [0, 40, 40], [0, 90, 40], [0, 2000], [0, float("nan")], [0, True]])
def test_bad_cuff_readings_are_refused_naming_the_field(tmp_path: Path, readings: list[Any]) -> None:
    code, text = _run("trial", str(_write(tmp_path, small_design(bp_readings_min=readings))), "--format", "json")
    assert code == 2, text
    assert "bp_readings_min" in text, text


@pytest.mark.parametrize("name", ["", "a\nb", "x" * 61])
def test_an_arm_name_is_short_printable_text(tmp_path: Path, name: str) -> None:
    """Found by an audit: an empty name, a newline or 100,000 characters ran (arm names label
    tables, files and figures)."""
    design = small_design()
    design["arms"][name] = design["arms"].pop("ketamine")
    code, out = _run("trial", str(_write(tmp_path, design)))
    assert code == 2 and "arms" in out, out
