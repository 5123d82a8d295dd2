"""`ketasim pk` and `ketasim demo` from the outside: the JSON contract, bad input, files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketasim.cli import app

runner = CliRunner(env={"COLUMNS": "300"})


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_json_contract_iv() -> None:
    code, out = _run(
        "pk",
        "--drug",
        "racemic_ketamine",
        "--route",
        "iv",
        "--dose-mg-per-kg",
        "0.5",
        "--at-h",
        "0,0.6667,1,2",
        "--format",
        "json",
    )
    assert code == 0, out
    data = json.loads(out)
    assert list(data) == ["times_h", "concentrations_ng_ml", "arterial_parent_ng_ml", "summary"]
    assert data["times_h"] == [0, 0.6667, 1, 2]
    # the infusion has stopped at every time but 0 (before it): arterial = venous
    assert data["arterial_parent_ng_ml"] == data["concentrations_ng_ml"]["ketamine"]
    assert list(data["concentrations_ng_ml"]) == ["ketamine", "norketamine"]
    assert list(data["summary"]) == ["ketamine", "norketamine"]
    assert set(data["summary"]["ketamine"]) == {"cmax_ng_ml", "tmax_h", "auc_ng_h_ml", "half_life_h"}
    assert data["concentrations_ng_ml"]["ketamine"][0] == 0.0
    assert 160 < data["concentrations_ng_ml"]["ketamine"][1] < 200
    assert data["summary"]["ketamine"]["tmax_h"] == pytest.approx(40 / 60, abs=1 / 30)


def test_json_contract_esketamine_parent_first() -> None:
    code, out = _run("pk", "--drug", "esketamine", "--route", "intranasal", "--dose-mg", "56", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert list(data["concentrations_ng_ml"]) == ["esketamine", "noresketamine"]
    assert data["times_h"][-1] == 24
    assert data["summary"]["esketamine"]["cmax_ng_ml"] == pytest.approx(72.5, rel=0.05)


def test_arterial_blood_carries_the_running_infusion_over_the_cardiac_output() -> None:
    """IV esketamine 20 mg over 20 min (Simons 2022's design): during the infusion arterial minus
    venous is the rate over the cardiac output, 60 mg/h / 455.4 L/h (Henthorn 2018) at 70 kg."""
    code, out = _run(
        "pk", "--drug", "esketamine", "--route", "iv", "--dose-mg", "20", "--duration-min", "20",
        "--at-h", "0.1,0.25,0.3333,0.5", "--format", "json",
    )  # fmt: skip
    assert code == 0, out
    data = json.loads(out)
    venous = data["concentrations_ng_ml"]["esketamine"]
    gap = [a - v for a, v in zip(data["arterial_parent_ng_ml"], venous, strict=True)]
    assert gap[:3] == pytest.approx([1000 * 60 / 455.4] * 3)
    assert gap[3] == 0.0
    assert 1 / 1.5 < max(data["arterial_parent_ng_ml"]) / 266.0 < 1.5  # pk-30: Simons 2022, radial artery


def test_table_output_and_plot(tmp_path: Path) -> None:
    plot = tmp_path / "pk.png"
    code, out = _run(
        "pk",
        "--drug",
        "racemic_ketamine",
        "--route",
        "oral",
        "--dose-mg",
        "50",
        "--weight-kg",
        "80",
        "--sex",
        "female",
        "--age-years",
        "66",
        "--plot",
        str(plot),
    )
    assert code == 0, out
    assert "ketamine" in out and "clinical judgement" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "flag", "fragment"),
    [
        (["--drug", "cocaine", "--route", "iv", "--dose-mg", "10"], "--drug", "cocaine"),
        (["--drug", "esketamine", "--route", "rectal", "--dose-mg", "10"], "--route", "rectal"),
        (["--drug", "esketamine", "--route", "im", "--dose-mg", "10"], "--route", "intranasal"),
        (["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg", "-5"], "--dose-mg", "-5"),
        (["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg", "0"], "--dose-mg", "0"),
        (
            ["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg-per-kg", "0.5", "--weight-kg", "300"],
            "--weight-kg",
            "less than or equal to 250",
        ),
        (
            ["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg-per-kg", "0.5", "--weight-kg", "20"],
            "--weight-kg",
            "greater than or equal to 30",
        ),
        (
            ["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg-per-kg", "0.5", "--age-years", "12"],
            "--age-years",
            "greater than or equal to 18",
        ),
        (
            ["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg-per-kg", "0.5", "--age-years", "101"],
            "--age-years",
            "less than or equal to 100",
        ),
        (
            ["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg-per-kg", "nan"],
            "--dose-mg-per-kg",
            "finite",
        ),
        (
            ["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg", "inf"],
            "--dose-mg",
            "finite",
        ),
        (["--drug", "esketamine", "--route", "intranasal", "--dose-mg", "50"], "--dose-mg", "28, 56, 84"),
        (["--drug", "esketamine", "--route", "intranasal", "--dose-mg-per-kg", "1"], "--dose-mg-per-kg", "devices"),
        (
            ["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg-per-kg", "5"],
            "--dose-mg-per-kg",
            "4.5 mg/kg",
        ),
        (["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg", "400"], "--dose-mg", "4.5 mg/kg"),
        (["--drug", "esketamine", "--route", "intranasal", "--dose-mg", "70"], "--dose-mg", "28, 56, 84"),
        (
            ["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg", "35", "--duration-min", "0"],
            "--duration-min",
            "0",
        ),
        (
            ["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg", "35", "--duration-min", "-3"],
            "--duration-min",
            "-3",
        ),
        (
            ["--drug", "racemic_ketamine", "--route", "oral", "--dose-mg", "35", "--duration-min", "30"],
            "--duration-min",
            "iv only",
        ),
        (
            ["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg", "35", "--at-h", "1,x"],
            "--at-h",
            "1,x",
        ),
        (
            ["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg", "35", "--at-h", "2,1"],
            "--at-h",
            "increasing",
        ),
        (["--drug", "racemic_ketamine", "--route", "iv"], "--dose-mg", "exactly one"),
        (
            ["--drug", "racemic_ketamine", "--route", "iv", "--dose-mg", "35", "--dose-mg-per-kg", "0.5"],
            "--dose-mg",
            "exactly one",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_flag(args: list[str], flag: str, fragment: str, tmp_path: Path) -> None:
    plot = tmp_path / "never.png"
    code, out = _run("pk", *args, "--plot", str(plot))
    assert code == 2, out
    assert flag in out
    assert fragment in out
    assert not plot.exists()
    assert list(tmp_path.iterdir()) == []


def test_help_carries_the_disclaimer() -> None:
    code, out = _run("--help")
    assert code == 0
    assert "does not replace clinical" in " ".join(out.split())


def test_demo_runs_what_make_demo_runs(tmp_path: Path) -> None:
    """`make demo` runs `ketasim demo --out out/demo`; this is the same command."""
    code, out = _run("demo", "--out", str(tmp_path))
    assert code == 0, out
    assert (tmp_path / "pk_standard_regimens.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "pk_summary.json").read_text())
    iv = summary["Racemic ketamine IV 0.5 mg/kg over 40 min"]["ketamine"]
    assert iv["cmax_ng_ml"] == pytest.approx(185, rel=0.10)
    assert len(summary) == 5  # the five standard regimens
    assert (tmp_path / "cascade.png").stat().st_size > 10_000
    trajectories = json.loads((tmp_path / "trajectories.json").read_text())
    ketamine, ssri = trajectories["ketamine"]["scales"]["MADRS"], trajectories["ssri"]["scales"]["MADRS"]
    day1 = trajectories["ketamine"]["times_h"].index(33.0)
    assert ketamine[day1] < ssri[day1]  # ketamine acts within a day; the SSRI has barely started


def test_demo_plan_step_runs_what_make_demo_runs(tmp_path: Path) -> None:
    """`make demo`'s second step: `ketasim plan examples/patients/trd_iv_ketamine.yaml --report out/demo/plan.html`."""
    example = Path(__file__).resolve().parents[1] / "examples" / "patients" / "trd_iv_ketamine.yaml"
    assert f"ketasim plan {example.relative_to(example.parents[2])} --report out/demo/plan.html" in (
        example.parents[2] / "Makefile"
    ).read_text(encoding="utf-8")
    code, out = _run("plan", str(example), "--report", str(tmp_path / "plan.html"))
    assert code == 0, out
    decision = next(line for line in out.splitlines() if line.startswith("Example patient — TRD, IV ketamine"))
    assert decision.endswith(": eligible"), decision  # not "not eligible", not "needs review"
    assert (tmp_path / "plan.html").stat().st_size > 10_000
