"""The validation report: every target listed, the JSON contract, and the pass rate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.pd._params import calibrated
from ketasim.trials._targets import load_targets
from ketasim.trials.calibration import fit_glutamate_adaptation
from ketasim.trials.validation import validate, validation_json

REQUIRED_PASS_RATE = 0.85  # issue: >= 85% of calibration targets within their declared tolerances


@pytest.fixture(scope="module")
def report() -> dict:
    return validation_json(validate(n=400))


def test_every_target_is_listed_none_dropped(report: dict) -> None:
    ids = [t.id for t in load_targets()]
    assert [row["id"] for row in report["targets"]] == ids
    assert report["total"] == len(ids) >= 75
    for row in report["targets"]:
        assert set(row) >= {"id", "source", "endpoint", "observed", "predicted", "tolerance", "pass"}
        if row["predicted"] is None:
            assert row["pass"] is False and row["reason"]


def test_pass_rate_meets_the_bar(report: dict) -> None:
    rate = report["passed"] / report["total"]
    assert rate >= REQUIRED_PASS_RATE, f"{report['passed']}/{report['total']} = {rate:.1%}"


def test_calibration_stage_1_is_reproducible() -> None:
    """Re-running the glutamate-timing fit gives the value in calibrated.yaml."""
    assert fit_glutamate_adaptation() == pytest.approx(calibrated().values["tau_glutamate_adaptation_min"], rel=1e-3)


def test_calibrated_file_records_provenance() -> None:
    cal = calibrated()
    assert cal.fit_date and cal.method and cal.targets_used
    known = {t.id for t in load_targets()}
    assert set(cal.targets_used) <= known


def test_validate_cli_json_and_report(tmp_path: Path) -> None:
    html = tmp_path / "v.html"
    result = CliRunner(env={"COLUMNS": "300"}).invoke(
        app, ["validate", "--format", "json", "--n", "50", "--report", str(html)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert set(doc) == {"targets", "passed", "total"}
    assert doc["total"] == len(load_targets())
    assert "data:image/png;base64" in html.read_text()


def test_validate_cli_refuses_bad_n() -> None:
    result = CliRunner(env={"COLUMNS": "300"}).invoke(app, ["validate", "--n", "3"])
    assert result.exit_code == 2
    assert "--n" in result.output


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["calibrate", "--n", "10"], "--n"),
        (["calibrate", "--max-evaluations", "0"], "--max-evaluations"),
        (["calibrate", "--output", "fit.txt"], "--output"),
        (["params", "bogus_model"], "MODEL"),
    ],
)
def test_calibrate_and_params_refuse_bad_input(args: list[str], flag: str, tmp_path: Path) -> None:
    before = calibrated().values
    result = CliRunner(env={"COLUMNS": "300"}).invoke(app, args)
    assert result.exit_code == 2, result.output
    assert flag in result.output
    assert calibrated().values == before
