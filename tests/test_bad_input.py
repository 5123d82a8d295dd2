"""Bad input at every door: each case that once ended in a traceback now exits 2 (CLI) or
answers 4xx (HTTP) naming the flag or field, and writes nothing; and hypothesis fuzzes the
CLI's and the API's inputs: a clean refusal or a valid result, never a traceback or a 5xx."""

from __future__ import annotations

import json
import math
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

import ketasim.trials.run
from ketasim.api import Limits, create_app
from ketasim.cli import app

runner = CliRunner(env={"COLUMNS": "300"})
ROOT = Path(__file__).resolve().parents[1]
PATIENT = ROOT / "examples" / "patients" / "trd_iv_ketamine.yaml"
SCENARIO = ROOT / "examples" / "scenarios" / "default_trd_iv.yaml"
TRIAL = {
    "name": "t",
    "condition": "trd",
    "scale": "MADRS",
    "n_per_arm": 10,
    "arms": {"k": {"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 0.5, "days": [0]}]}},
    "assessment_days": [0, 1],
    "endpoints": [{"type": "response", "day": 1}],
}


def _clean(result: Result) -> None:
    """Exit 0 or 2, never an uncaught exception (a traceback)."""
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def _refused(args: list[str], *fragments: str) -> str:
    result = runner.invoke(app, args)
    _clean(result)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    for fragment in fragments:
        assert fragment in text, (fragment, text)
    return text


def _files(tmp: Path) -> dict[str, Path]:
    """Broken input documents, one per way a file can be bad."""
    docs = {
        "broken.yaml": b"patient: {weight_kg: 70\ntreatment: [",
        "tag.yaml": b"!!python/object/apply:os.system ['echo pwned']\n",
        "binary.yaml": b"\x00\x01\x02\xff\xfe",
        "latin1.yaml": "name: caf\xe9\n".encode("latin-1"),
        "list.yaml": b"- 1\n- 2\n",
        "nan.json": b'{"patient": {"weight_kg": NaN}}',
        "bomb.yaml": (
            b"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
            b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        ),
        "deep.yaml": b"a: " + b"[" * 200 + b"]" * 200 + b"\n",
        "twice.yaml": b"name: a\nfollow_up_days: 3\nname: b\n",  # which name was meant? (audit)
        "twice.json": b'{"patient": {"weight_kg": 82, "weight_kg": 500}}',
    }
    out = {}
    for name, content in docs.items():
        out[name] = tmp / name
        out[name].write_bytes(content)
    big = tmp / "big.yaml"
    with big.open("wb") as fh:
        fh.write(b"name: '" + b"x" * (11 * 2**20) + b"'\n")
    out["big.yaml"] = big
    return out


FILE_REASONS = {
    "broken.yaml": "not valid YAML",
    "tag.yaml": "not valid YAML",
    "binary.yaml": "binary",
    "latin1.yaml": "UTF-8",
    "list.yaml": "mapping",
    "nan.json": "NaN is not a number JSON allows",
    "bomb.yaml": "aliases expanded",
    "deep.yaml": "nested too deeply",
    "big.yaml": "documents are at most",
    "twice.yaml": "the key 'name' appears twice (line 3)",
    "twice.json": "the key 'weight_kg' appears twice",
}


@pytest.mark.parametrize("command", ["simulate", "trial", "plan", "export-sbml"])
def test_every_broken_document_is_refused_by_every_command_that_reads_one(command: str, tmp_path: Path) -> None:
    for name, path in _files(tmp_path).items():
        _refused([command, str(path)], FILE_REASONS[name])
    _refused([command, str(tmp_path)], "is a directory")
    _refused([command, str(tmp_path / "missing.yaml")], "does not exist")


def test_a_broken_rules_or_parameter_file_is_refused(tmp_path: Path) -> None:
    for name, path in _files(tmp_path).items():
        _refused(["plan", str(PATIENT), "--rules", str(path)], "--rules", FILE_REASONS[name])
        _refused(["simulate", "--params", str(path)], "--params", FILE_REASONS[name])
    _refused(["plan", str(PATIENT), "--rules", str(tmp_path)], "--rules", "is a directory")


@pytest.mark.parametrize(
    ("where", "value", "reason"),
    [
        (("values", "efficacy_emax"), True, "values.efficacy_emax"),  # a boolean is not a number
        (("values", "efficacy_emax"), "0.3", "values.efficacy_emax"),  # nor is a string
        (("cross_validation", 0, "values", "zzz"), 1.0, "cross_validation[0].values.zzz: is not a free parameter"),
        (("cross_validation", 0, "values", "efficacy_emax"), -1e6, "cross_validation[0].values.efficacy_emax"),
        (("cross_validation", 0, "fold"), True, "fold"),
    ],
)
def test_a_parameter_file_is_checked_whole_before_anything_is_computed(
    tmp_path: Path, where: tuple[str | int, ...], value: object, reason: str
) -> None:
    """Found by an audit: a fold's unknown name failed only after the in-sample validation had
    been computed (a traceback), a fold's value was never range-checked, and ``true`` or
    ``"0.3"`` passed for a number."""
    import yaml

    doc = yaml.safe_load((ROOT / "src" / "ketasim" / "data" / "calibrated.yaml").read_text(encoding="utf-8"))
    node = doc
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    _refused(["params", "mechanism", "--params", str(path)], "--params", reason)
    _refused(["validate", "--n", "50", "--families", "ocd", "--params", str(path)], "--params", reason)


OUTPUTS = [
    (["pk", "--drug", "esketamine", "--route", "intranasal", "--dose-mg", "56", "--plot"], ".png", "--plot"),
    (["simulate", "--plot"], ".png", "--plot"),
    (["simulate", "--report"], ".html", "--report"),
    (["plan", str(PATIENT), "--report"], ".html", "--report"),
    (["export-sbml", "--output"], ".xml", "--output"),
    (["validate", "--n", "50", "--report"], ".html", "--report"),
    (["calibrate", "--out"], ".yaml", "--out"),
]


@pytest.mark.parametrize(("args", "suffix", "flag"), OUTPUTS, ids=[o[2] + " " + o[0][0] for o in OUTPUTS])
def test_an_output_that_cannot_be_written_is_refused_before_computing(
    args: list[str], suffix: str, flag: str, tmp_path: Path
) -> None:
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    _refused([*args, str(folder)], flag, "is a directory")
    _refused([*args, str(tmp_path / "missing" / f"x{suffix}")], flag, "does not exist")
    _refused([*args, str(tmp_path / "x.wrong")], flag, "must end in")
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]


def test_an_output_the_system_refuses_at_write_time_is_a_clean_error(tmp_path: Path) -> None:
    """/proc accepts no new file, even for root (for whom permission checks pass)."""
    _refused(
        ["pk", "--drug", "esketamine", "--route", "intranasal", "--dose-mg", "56", "--plot", "/proc/k.png"], "--plot"
    )
    _refused(["simulate", "--report", "/proc/k.html"], "--report", "cannot be written")
    trial = tmp_path / "t.yaml"
    trial.write_text(yaml.safe_dump(TRIAL))
    _refused(["trial", str(trial), "--out", "/proc/rows.parquet"], "--out", "cannot be written")
    _refused(["demo", "--out", "/proc/demo"], "--out")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def quick_scheduler_timeout(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(ketasim.trials.run, "SCHEDULER_TIMEOUT_S", 2)
    yield


@pytest.mark.usefixtures("quick_scheduler_timeout")
def test_a_malformed_or_unreachable_scheduler_is_refused(tmp_path: Path) -> None:
    trial = tmp_path / "t.yaml"
    trial.write_text(yaml.safe_dump(TRIAL))
    out = tmp_path / "rows.parquet"
    for address in ("not an address", "tcp://host:99999", "http://127.0.0.1:8786", "tcp://:80"):
        _refused(["trial", str(trial), "--scheduler", address, "--out", str(out)], "--scheduler", "HOST:PORT")
    _refused(
        ["trial", str(trial), "--scheduler", f"tcp://127.0.0.1:{_closed_port()}", "--out", str(out)],
        "--scheduler",
        "cannot be reached",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.yaml"]


# ---------------------------------------------------------------- fuzzing the CLI's flags
VALUES = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e309", "true", "", " ", "1,2", "⁹", "0x10", "1e-320"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**12), 10**12).map(str),
    st.text(max_size=12),
)
PK_FLAGS = ["--dose-mg", "--dose-mg-per-kg", "--duration-min", "--weight-kg", "--age-years", "--sex", "--at-h"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drug=st.sampled_from(["racemic_ketamine", "esketamine", "cocaine", ""]),
    route=st.sampled_from(["iv", "intranasal", "oral", "im", "rectal"]),
    flags=st.dictionaries(st.sampled_from(PK_FLAGS), VALUES, max_size=4),
)
def test_fuzz_pk_flags(drug: str, route: str, flags: dict[str, str]) -> None:
    args = ["pk", "--drug", drug, "--route", route, "--format", "json"]
    for flag, value in flags.items():
        args += [flag, value]
    result = runner.invoke(app, args)
    _clean(result)
    if result.exit_code == 0:
        doc = json.loads(result.output)
        assert all(math.isfinite(c) and c >= 0 for cs in doc["concentrations_ng_ml"].values() for c in cs)


def _mutations() -> st.SearchStrategy[Any]:
    leaf = st.one_of(
        st.floats(0, 100),  # plausible values reach the model, not only the validation
        st.sampled_from([0, 1, 2, 7, 28, 56, 84, 0.5, "trd", "MADRS", "iv", "esketamine", "placebo"]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
        st.integers(-(10**6), 10**6),
        st.text(max_size=8),
        st.none(),
        st.just([]),
        st.just({}),
    )
    return st.recursive(
        leaf,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=6,
    )


def _mutate(doc: Any, path: list[int], value: Any) -> Any:
    """Replace the leaf that ``path`` points to (indices into sorted keys or items) with ``value``."""
    if not path or not isinstance(doc, dict | list) or not doc:
        return value
    keys = sorted(doc) if isinstance(doc, dict) else list(range(len(doc)))
    key = keys[path[0] % len(keys)]
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[key] = _mutate(doc[key], path[1:], value)
    return copy


SCENARIO_DOC = yaml.safe_load(SCENARIO.read_text())
PATIENT_DOC = yaml.safe_load(PATIENT.read_text())


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.lists(st.integers(0, 20), min_size=1, max_size=4), value=_mutations())
def test_fuzz_scenario_files(tmp_path_factory: pytest.TempPathFactory, path: list[int], value: Any) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    doc = _mutate(SCENARIO_DOC, path, value)
    days = doc.get("follow_up_days") if isinstance(doc, dict) else None
    if isinstance(days, int | float) and not isinstance(days, bool) and days > 20:
        doc["follow_up_days"] = 20  # keep each example quick
    target = tmp / "s.json"
    target.write_text(json.dumps(doc))  # NaN and Infinity written as JSON tokens, which are refused
    report = tmp / "r.html"
    result = runner.invoke(app, ["simulate", str(target), "--format", "json", "--report", str(report)])
    _clean(result)
    assert report.exists() == (result.exit_code == 0)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.lists(st.integers(0, 20), min_size=1, max_size=4), value=_mutations())
def test_fuzz_patient_files(tmp_path_factory: pytest.TempPathFactory, path: list[int], value: Any) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    target = tmp / "p.yaml"
    target.write_text(yaml.safe_dump(_mutate(PATIENT_DOC, path, value)))
    result = runner.invoke(app, ["plan", str(target), "--format", "json"])
    _clean(result)


# ---------------------------------------------------------------- fuzzing the API's bodies
@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    limits = Limits(
        forecast_copies=20,
        max_patient_courses=500,
        max_running_jobs=1,
        max_run_seconds=5,
        validation_n=20,
        cache_dir=tmp_path_factory.mktemp("cache"),
    )
    with TestClient(create_app(limits), base_url="http://localhost") as c:
        yield c


BODIES = {
    "/api/pk": {"drug": "esketamine", "route": "intranasal", "dose_mg": 56, "at_h": [0.5, 1, 2]},
    "/api/simulate": {**SCENARIO_DOC, "follow_up_days": 14},
    "/api/plan": PATIENT_DOC,
    "/api/trials": TRIAL,
}


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    endpoint=st.sampled_from(sorted(BODIES)),
    path=st.lists(st.integers(0, 20), min_size=1, max_size=4),
    value=_mutations(),
)
def test_fuzz_api_bodies(client: TestClient, endpoint: str, path: list[int], value: Any) -> None:
    body = _mutate(BODIES[endpoint], path, value)
    r = client.post(endpoint, content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code < 500 or r.status_code == 503, (r.status_code, r.text)
    if r.status_code == 422:
        detail = r.json()["detail"]
        assert detail and all(d["loc"] and d["msg"] for d in detail)
    if r.status_code == 202 and endpoint == "/api/trials":
        client.delete(f"/api/trials/{r.json()['job_id']}")


@pytest.mark.parametrize(
    "raw",
    [b"{", b"NaN", b"[1,2]", b'{"drug": "esketamine", "route": "intranasal", "dose_mg": 1e999}', b"\xff\xfe", b""],
)
def test_malformed_json_bodies_are_4xx(client: TestClient, raw: bytes) -> None:
    for endpoint in BODIES:
        r = client.post(endpoint, content=raw, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (endpoint, raw, r.status_code, r.text)


TRIAL_DOCS = [
    yaml.safe_load((ROOT / "examples" / "trials" / f"{name}.yaml").read_text())
    for name in (
        "ketect_2022_stop_at_remission",
        "transform2_esketamine_flexible_dose",
        "taylor_2018_social_anxiety_crossover",
        "sustain1_randomised_withdrawal_stable_responders",
    )
]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    which=st.integers(0, len(TRIAL_DOCS) - 1),
    path=st.lists(st.integers(0, 20), min_size=1, max_size=5),
    value=_mutations(),
)
def test_fuzz_trial_designs(tmp_path_factory: pytest.TempPathFactory, which: int, path: list[int], value: Any) -> None:
    """Mutated designs with comparators, rules, withdrawal and crossover periods: a result or
    a clean refusal, never a traceback."""
    doc = _mutate(TRIAL_DOCS[which], path, value)
    if isinstance(doc, dict):
        doc["n_per_arm"] = (
            12 if not isinstance(doc.get("n_per_arm"), int) or doc["n_per_arm"] > 12 else doc["n_per_arm"]
        )
    target = tmp_path_factory.mktemp("fuzz") / "t.json"
    target.write_text(json.dumps(doc))
    _clean(runner.invoke(app, ["trial", str(target), "--format", "json"]))


WORKER_LOADERS = {
    "ParameterError": "ketasim.params:load_parameters",
    "PlannerError": "ketasim.clinic.patient:load_patient",
    "RulesError": "ketasim.clinic.rules:load_rules",
    "TrialError": "ketasim.trials.design:load_design",
    "ScenarioError": "ketasim.model.scenario:load_scenario",
}


@pytest.mark.parametrize("kind", sorted(WORKER_LOADERS))
def test_an_input_error_raised_in_a_worker_process_reaches_the_caller_intact(kind: str, tmp_path: Path) -> None:
    """Calibration folds and trial chunks run in worker processes: their refusals must arrive
    as themselves (field and message), not as a broken process pool.  The worker runs a real
    entry point (a loader given a missing file), so nothing of the tests is imported there."""
    import importlib
    import multiprocessing
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    import ketasim.errors as errors

    err = getattr(errors, kind).one("a.b", "bad")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is type(err) and again.problems == err.problems
    dose = pickle.loads(pickle.dumps(errors.DoseError("dose_mg", 5000.0, "at most 100 mg")))
    assert dose.field == "dose_mg" and dose.problems[0][1].startswith("5000")
    module, name = WORKER_LOADERS[kind].split(":")
    loader = getattr(importlib.import_module(module), name)
    missing = str(tmp_path / "missing.yaml")
    with (
        ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool,
        pytest.raises(getattr(errors, kind)) as caught,
    ):
        pool.submit(loader, missing).result()
    assert caught.value.problems == [("(file)", f"{missing!r} does not exist")]


def test_an_error_reports_at_most_fifty_problems_and_survives_a_process_boundary() -> None:
    """Found by an audit: a patient file with 100,000 unknown flags wrote 30 MB of errors."""
    import pickle

    from ketasim.errors import MAX_PROBLEMS, InputError

    err = InputError((f"history[{i}]", "unknown") for i in range(100_000))
    assert len(err.problems) == MAX_PROBLEMS
    assert err.problems[-1] == ("(input)", f"{100_000 - MAX_PROBLEMS + 1} more problems not shown")
    assert pickle.loads(pickle.dumps(err)).problems == err.problems
    assert len(InputError([("a", "b")] * MAX_PROBLEMS).problems) == MAX_PROBLEMS  # not cut at the limit


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"device_times_min": [0, -5]}, "device_times_min"),
        ({"device_times_min": [5, 0]}, "device_times_min"),
        ({"device_times_min": [1e9]}, "device_times_min"),
        (
            {"route": "iv", "drug": "racemic_ketamine", "infusion_end_min": 40, "infusion_rate_mg_per_h": 1e12},
            "infusion_rate",
        ),
    ],
)
def test_a_sessions_device_times_and_rate_are_plausible(changes: dict[str, Any], field: str) -> None:
    from pydantic import ValidationError

    from ketasim.registry._inputs import SessionIn

    base = {"patient_uid": "p", "started_at": "2026-11-02T09:00:00+00:00", "drug": "esketamine",
            "route": "intranasal", "dose_mg": 56}  # fmt: skip
    with pytest.raises(ValidationError, match=field):
        SessionIn.model_validate({**base, **changes})
    SessionIn.model_validate({**base, "device_times_min": [0, 5, 10]})


def test_the_python_entries_take_their_model_or_a_mapping_and_refuse_anything_else() -> None:
    """Found by an audit: ``pk_profile(dict)`` and ``plan_patient({})`` raised AttributeError.
    A mapping is now validated into the model (the same result as the model itself), and any
    other type is an InputError naming the argument."""
    from ketasim.clinic.plan import plan_patient
    from ketasim.errors import InputError, PlannerError, ScenarioError
    from ketasim.model.scenario import simulate_scenario
    from ketasim.pk import PKRequest, pk_profile

    fields = {"drug": "esketamine", "route": "intranasal", "dose_mg": 56, "at_h": [0.5, 1.0]}
    assert pk_profile(fields) == pk_profile(PKRequest.model_validate(fields))
    for call, error, argument in (
        (lambda: pk_profile("esketamine"), InputError, "request"),  # type: ignore[arg-type]
        (lambda: simulate_scenario(7), ScenarioError, "scenario"),  # type: ignore[arg-type]
        (lambda: plan_patient(None), PlannerError, "patient"),  # type: ignore[arg-type]
        (lambda: pk_profile({**fields, "dose_mg": True}), InputError, "dose_mg"),
    ):
        with pytest.raises(error) as info:
            call()
        assert info.value.problems[0][0] == argument, info.value.problems
    with pytest.raises(InputError, match="copies"):
        plan_patient(PATIENT_DOC, copies="many")  # type: ignore[arg-type]


def test_small_cli_refusals_found_by_the_audit(tmp_path: Path) -> None:
    """An empty item in --at-h was dropped silently; /dev/zero 'did not exist'; an unusable
    --host ended in uvicorn's exit 3."""
    pk = ["pk", "--drug", "esketamine", "--route", "intranasal", "--dose-mg", "56"]
    _refused([*pk, "--at-h", "1,,2"], "--at-h", "empty item")
    _refused(["simulate", "/dev/zero"], "not a regular file")
    _refused(["plan", str(PATIENT), "--rules", "/dev/zero"], "--rules", "not a regular file")
    _refused(["serve", "--host", "999.1.1.1", "--port", "18770"], "--host", "999.1.1.1")
    _refused(["serve", "--trust-proxy", "proxy.example", "--port", "18770"], "--trust-proxy", "not an IP address")
