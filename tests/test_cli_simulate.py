"""`ketasim simulate`, `validate` and scenario files from the outside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.model import clinic_sessions
from ketasim.model.scenario import load_scenario
from ketasim.vocabulary import scale

runner = CliRunner(env={"COLUMNS": "300"})
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "scenarios"


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_default_scenario_json_contract() -> None:
    code, out = _run("simulate", "--format", "json")
    assert code == 0, out
    doc = json.loads(out)
    for key in ("times_h", "concentrations_ng_ml", "states", "scales", "adverse"):
        assert key in doc
    for state in ("nmda_occupancy", "glutamate", "ampa", "bdnf", "mtorc1", "synapses"):
        assert len(doc["states"][state]) == len(doc["times_h"])
    assert list(doc["scales"]) == ["MADRS"]
    assert doc["scales"]["MADRS"][0] == 32.0
    assert {"cadss", "sbp_mmhg", "dbp_mmhg"} <= set(doc["adverse"])
    assert doc["times_h"][-1] == 42 * 24
    assert len(doc["sessions"]) == 6
    assert min(doc["scales"]["MADRS"]) < 32.0


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_simulates_what_its_file_says(example: str, tmp_path: Path) -> None:
    scenario = load_scenario(EXAMPLES / example)
    plot, report = tmp_path / "c.png", tmp_path / "r.html"
    code, out = _run(
        "simulate", str(EXAMPLES / example), "--format", "json", "--plot", str(plot), "--report", str(report)
    )
    assert code == 0, out
    doc = json.loads(out)
    # the horizon and step of the file, one session row per clinic session it lists
    assert doc["times_h"][-1] == pytest.approx(24 * scenario.follow_up_days)
    assert doc["times_h"][1] - doc["times_h"][0] == pytest.approx(scenario.output_step_h)
    assert [s["time_h"] for s in doc["sessions"]] == [t for t, _ in clinic_sessions(scenario.treatment)]
    # every score starts at its baseline and stays on its scale
    assert set(doc["scales"]) == set(scenario.patient.baseline)
    for name, series in doc["scales"].items():
        assert series[0] == pytest.approx(scenario.patient.baseline[name])
        assert scale(name).min <= min(series) and max(series) <= scale(name).max
    occupancy = doc["states"]["nmda_occupancy"]
    assert all(0.0 <= o < 1.0 for o in occupancy)
    first = doc["sessions"][0]["time_h"] if doc["sessions"] else float("inf")
    assert all(o == 0.0 for t, o in zip(doc["times_h"], occupancy, strict=True) if t < first)
    assert plot.read_bytes()[:4] == b"\x89PNG"
    text = report.read_text()
    assert "does not replace clinical judgement" in text and "data:image/png;base64" in text
    assert scenario.name.replace("&", "&amp;").replace("<", "&lt;") in text


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"patient": {"colour": "red"}}, "patient.colour"),
        ({"patient": {"baseline": {"MADRS": -3}}}, "outside the scale's range"),
        ({"patient": {"baseline": {"MADRS": float("nan")}}}, "patient.baseline.MADRS"),
        ({"patient": {"weight_kg": True}}, "true is not allowed"),
        ({"treatment": [{"kind": "ketamine", "dose_mg_per_kg": float("nan"), "days": [0]}]}, "finite"),
        ({"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 0.5, "days": [float("inf")]}]}, "treatment[0].days"),
        ({"treatment": [{"kind": "oral_antidepressant", "start_day": False}]}, "treatment[0].start_day"),
        ({"patient": {"baseline": {"MADRS": 70}}}, "0–60"),
        ({"patient": {"condition": "flu"}}, "trd"),
        ({"patient": {"condition": "ocd", "baseline": {"MADRS": 30}}}, "Y-BOCS"),
        ({"patient": {"baseline": {"XYZ": 3}}}, "allowed"),
        ({"patient": {"weight_kg": 20}}, "patient.weight_kg"),
        ({"treatment": [{"kind": "ketamine", "days": [0]}]}, "treatment[0]"),
        ({"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 0.5}]}, "treatment[0].days"),
        ({"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 6, "days": [0]}]}, "treatment[0].dose_mg_per_kg"),
        (
            {
                "treatment": [
                    {"kind": "ketamine", "drug": "esketamine", "route": "intranasal", "dose_mg": 60, "days": [0]}
                ]
            },
            "28, 56, 84",
        ),
        ({"treatment": [{"kind": "teleport", "days": [0]}]}, "treatment[0]"),
        ({"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 0.5, "days": [3, 1]}]}, "increasing"),
        ({"follow_up_days": 5, "treatment": [{"kind": "ketamine", "dose_mg_per_kg": 0.5, "days": [9]}]}, "follow_up"),
        ({"name": "six\u009f infusions"}, "name: U+009F is a control character"),
        ({"name": "six\ue000 infusions"}, "name: U+E000 is a private-use character"),
        ({"name": "six\U000b2ea5 infusions"}, "name: U+B2EA5 is unassigned"),
        ({"name": "six\ninfusions"}, "name: U+000A is a control character"),
    ],
)
def test_bad_scenarios_exit_2_naming_the_field(doc: dict, fragment: str, tmp_path: Path) -> None:
    path = _write(tmp_path, doc)
    plot = tmp_path / "never.png"
    code, out = _run("simulate", str(path), "--plot", str(plot))
    assert code == 2, out
    assert fragment in " ".join(out.split()), out
    assert not plot.exists()


def test_missing_scenario_file_or_a_folder(tmp_path: Path) -> None:
    code, out = _run("simulate", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "does not exist" in out
    code, out = _run("simulate", str(tmp_path))
    assert code == 2
    assert "is a directory" in out


def test_a_course_whose_label_matplotlib_hides_still_plots_without_a_warning(tmp_path: Path) -> None:
    """matplotlib leaves labels starting with "_" out of a legend; the symptom panel then has
    lines but nothing to label, and must not ask for a legend (found by the scenario fuzzer)."""
    import warnings

    from ketasim.model.scenario import Scenario, course_report, simulate_scenario
    from ketasim.reporting.figures import plot_cascade

    course = course_report(simulate_scenario(Scenario()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = plot_cascade([("_hidden", course)], tmp_path / "cascade.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "cascade.png").stat().st_size > 0


def test_a_name_in_a_script_the_font_lacks_is_reported_in_full_and_plotted_without_a_warning(tmp_path: Path) -> None:
    """A name the bundled font cannot draw (CJK) is valid input: the HTML report shows it in
    full, and the figure draws it as the font allows, without a warning (found by the fuzzer)."""
    import warnings

    name = "氯胺酮 six infusions"
    path = _write(tmp_path, {"name": name})
    report = tmp_path / "report.html"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, out = _run("simulate", str(path), "--report", str(report), "--format", "json")
    assert code == 0, out
    assert name in report.read_text(encoding="utf-8")
