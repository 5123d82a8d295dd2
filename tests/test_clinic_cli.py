"""`ketasim clinic` as a clinic uses it: real processes on a real SQLite file, a password in
the environment, the exit codes (2 refused input, 3 refused permission), files written whole
or not at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from authenticator import Authenticator

KETASIM = str(Path(sys.executable).parent / "ketasim")
PASSWORD = "correct horse battery"
PATIENT = {
    "mrn": "MRN-7",
    "given_name": "Rosa",
    "family_name": "Example",
    "birth_date": "1975-03-09",
    "sex": "female",
    "clinical": {
        "weight_kg": 68,
        "height_cm": 168,
        "diagnoses": ["trd"],
        "failed_antidepressant_trials": 2,
        "vitals": {"systolic_mmhg": 118, "diastolic_mmhg": 76, "heart_rate_bpm": 66, "spo2_pct": 98},
        "baseline_scores": {"MADRS": 30},
        "treatment": {"drug": "esketamine", "route": "intranasal"},
    },
}


class Cli:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = {**os.environ, "KETASIM_DB": f"sqlite:///{tmp / 'clinic.db'}", "COLUMNS": "200"}
        self.phones: dict[str, Authenticator] = {}
        """Each account's authenticator, once it has a second factor: its code goes with ``--as``."""

    def __call__(
        self, *args: str, password: str = PASSWORD, new: str | None = None, code: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "KETASIM_PASSWORD": password}
        who = args[args.index("--as") + 1] if "--as" in args else None
        if code is None and who in self.phones:
            code = self.phones[who].code()
        if code is not None:
            env["KETASIM_TOTP"] = code
        stdin = f"{new}\n" if new is not None else None  # the new account's password (--password-stdin)
        return subprocess.run(
            [KETASIM, "clinic", *args], env=env, input=stdin, capture_output=True, text=True, timeout=300
        )

    def file(self, name: str, data: object) -> str:
        path = self.tmp / name
        path.write_text(yaml.safe_dump(data))
        return str(path)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    from ketasim.registry import Registry

    c = Cli(tmp_path)
    assert c("init").returncode == 0
    assert c("add-user", "admin", "--role", "admin", "--password-stdin", new=PASSWORD).returncode == 0
    r = c("add-user", "eve", "--role", "nurse", "--password-stdin", new=PASSWORD)
    assert r.returncode == 3 and "--as" in r.stdout  # only the first account needs no administrator
    r = c("add-user", "eve", "--role", "nurse", "--password-stdin", "--as", "admin", new=PASSWORD)
    assert r.returncode == 3 and "second-factor --as admin" in r.stdout  # an admin sets up a factor first
    registry = Registry.open(c.env["KETASIM_DB"])  # the other accounts (each admin command costs a code)
    for user, role in (("doc", "prescriber"), ("nurse", "nurse")):
        registry.create_user(registry.actor("admin"), user, user.title(), role, PASSWORD)
    registry.engine.dispose()
    c.phones["admin"] = _set_up_second_factor(c, "admin")
    return c


def _set_up_second_factor(cli: Cli, user: str) -> Authenticator:
    """The account's second factor, set up from the command line as its owner would: the key
    comes out (one JSON line), the code the app then shows goes in."""
    proc = subprocess.Popen(
        [KETASIM, "clinic", "second-factor", "--as", user, "--format", "json"],
        env={**cli.env, "KETASIM_PASSWORD": PASSWORD}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    phone = Authenticator(json.loads(proc.stdout.readline())["secret"])
    out, err = proc.communicate(phone.code() + "\n", timeout=120)
    assert proc.returncode == 0 and "set up" in out, out + err
    return phone


def test_a_course_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    r = cli("add-patient", cli.file("p.yaml", PATIENT), "--as", "doc", "--format", "json")
    assert r.returncode == 0, r.stderr
    uid = json.loads(r.stdout)["uid"]
    session = {"patient_uid": uid, "started_at": "2026-11-02T09:00:00+00:00", "drug": "esketamine",
               "route": "intranasal", "dose_mg": 56, "lot_number": "L-9"}  # fmt: skip
    r = cli("add-session", cli.file("s.yaml", session), "--as", "nurse", "--format", "json")
    assert r.returncode == 0, r.stderr
    sid = json.loads(r.stdout)["uid"]
    readings = [{"taken_at": "2026-11-02T08:55:00+00:00", "systolic_mmhg": 124, "diastolic_mmhg": 78},
                {"taken_at": "2026-11-02T09:40:00+00:00", "systolic_mmhg": 149, "diastolic_mmhg": 88}]  # fmt: skip
    assert cli("add-vitals", sid, cli.file("v.yaml", readings), "--as", "nurse").returncode == 0
    q = {"patient_uid": uid, "instrument": "PHQ-9", "taken_at": "2026-11-03T09:00:00+00:00", "items": [2] * 8 + [1]}
    r = cli("add-questionnaire", cli.file("q.yaml", q), "--as", "nurse", "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["total"] == 17
    r = cli("status", uid, "--as", "doc", "--on", "2026-11-04", "--format", "json")
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)
    assert {a["kind"] for a in status["alerts"]} >= {"suicidal_ideation_item"}
    assert "does not replace clinical judgement" in status["disclaimer"]
    page = tmp_path / "rems.html"
    r = cli("rems-form", sid, "--as", "doc", "--html", str(page), "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["answers"]["bp_at_40_min"] == "149/88"
    assert "REMS Patient Monitoring Form" in page.read_text()
    bundle = tmp_path / "bundle.json"
    assert cli("export-fhir", uid, "--as", "doc", "--out", str(bundle)).returncode == 0
    assert json.loads(bundle.read_text())["resourceType"] == "Bundle"
    r = cli("audit", "--as", "admin", "--format", "json")
    actions = {(e["action"], e["entity"]) for e in json.loads(r.stdout)}
    assert {("create", "patient"), ("read", "rems_form"), ("export", "fhir_bundle"), ("login", "user")} <= actions


def test_refusals_exit_2_or_3_and_write_nothing(cli: Cli, tmp_path: Path) -> None:
    r = cli("add-patient", cli.file("p.yaml", PATIENT), "--as", "doc", password="wrong password!")
    assert r.returncode == 3 and "refused" in r.stdout
    bad = {**PATIENT, "clinical": {**PATIENT["clinical"], "weight_kg": True}}
    r = cli("add-patient", cli.file("bad.yaml", bad), "--as", "doc")
    assert r.returncode == 2 and "clinical.weight_kg" in r.stderr and "Traceback" not in r.stderr
    r = cli("add-patient", str(tmp_path / "missing.yaml"), "--as", "doc")
    assert r.returncode == 2 and "does not exist" in r.stderr
    uid = json.loads(cli("add-patient", cli.file("p.yaml", PATIENT), "--as", "doc", "--format", "json").stdout)["uid"]
    out = tmp_path / "no-such-folder" / "b.json"
    r = cli("export-fhir", uid, "--as", "doc", "--out", str(out))
    assert r.returncode == 2 and "--out" in r.stderr and not out.exists()
    r = cli("export-fhir", uid, "--as", "nurse", "--out", str(tmp_path / "b.json"))
    assert r.returncode == 3 and not (tmp_path / "b.json").exists()
    r = cli("status", uid, "--as", "doc", "--on", "yesterday")
    assert r.returncode == 2 and "--on" in r.stderr
    r = cli("add-user", "x", "--role", "nurse", "--password-stdin", "--as", "admin", new="short")
    assert r.returncode == 2 and "password" in r.stderr
    r = cli("add-user", "x", "--role", "janitor", "--password-stdin", "--as", "admin", new=PASSWORD)
    assert r.returncode == 2 and "--role" in r.stderr
    r = cli("init", "--db", "mysql://somewhere/db")
    assert r.returncode == 2 and "not supported" in r.stderr


def test_a_database_that_cannot_be_opened_is_refused_naming_db(tmp_path: Path) -> None:
    """Found by an audit: a file that is not a database, or a server that cannot be reached,
    ended in a traceback (exit 1); now exit 2 naming --db, and the URL's password not echoed."""
    not_db = tmp_path / "notes.json"
    not_db.write_text('{"a": 1}')
    cli = Cli(tmp_path)
    cli.env["KETASIM_DB"] = f"sqlite:///{not_db}"
    r = cli("init")
    assert r.returncode == 2 and "--db" in r.stderr and "cannot be opened" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    down = "postgresql+psycopg://someone:hunter2secret@127.0.0.1:1/ketasim"
    r = subprocess.run([KETASIM, "serve", "--db", down, "--port", "18799"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--db" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert "hunter2secret" not in r.stdout + r.stderr


def test_only_init_and_demo_create_a_registry(tmp_path: Path) -> None:
    """Found by an audit: a refused `clinic dashboard` left a new, initialised database behind,
    and `serve --db` created missing folders."""
    cli = Cli(tmp_path)
    missing = tmp_path / "none.db"
    cli.env["KETASIM_DB"] = f"sqlite:///{missing}"
    r = cli("dashboard", "--as", "nobody")
    assert r.returncode == 2 and "--db" in r.stderr and "clinic init" in r.stderr, r.stderr
    assert not missing.exists()
    folder = tmp_path / "not" / "there"
    r = subprocess.run(
        [KETASIM, "serve", "--db", f"sqlite:///{folder / 'x.db'}", "--port", "18798"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2 and "clinic init" in r.stderr, r.stderr
    assert not (tmp_path / "not").exists()
    assert cli("init").returncode == 0 and missing.is_file()


def test_an_administrator_disables_and_resets_accounts_from_the_command_line(cli: Cli) -> None:
    r = cli("change-user", "nurse", "--disable", "--as", "admin")
    assert r.returncode == 0 and "disabled" in r.stdout, r.stderr
    r = cli("dashboard", "--as", "nurse")
    assert r.returncode == 3 and "refused" in r.stdout  # she can no longer sign in
    r = cli("change-user", "nurse", "--enable", "--role", "viewer", "--password-stdin", "--as", "admin",
            new="her brand new passphrase")  # fmt: skip
    assert r.returncode == 0 and "viewer" in r.stdout, r.stderr
    assert cli("dashboard", "--as", "nurse", password="her brand new passphrase").returncode == 0
    assert cli("dashboard", "--as", "nurse").returncode == 3  # the old password is gone
    r = cli("change-user", "nobody", "--disable", "--as", "admin")
    assert r.returncode == 2 and "NAME" in r.stderr and "not an account" in r.stderr
    r = cli("change-user", "doc", "--disable", "--as", "doc")
    assert r.returncode == 3 and "may not manage users" in r.stdout


def test_break_glass_from_the_command_line(cli: Cli) -> None:
    r = cli("add-user", "north-doc", "--role", "prescriber", "--site", "north", "--password-stdin", "--as", "admin",
            new=PASSWORD)  # fmt: skip
    assert r.returncode == 0, r.stderr  # a site without accounts may be opened by any admin
    north = json.loads(cli("add-patient", cli.file("p.yaml", PATIENT), "--as", "north-doc", "--format", "json").stdout)
    assert cli("status", north["uid"], "--as", "nurse").returncode == 2  # another site's patient: as unknown
    r = cli("break-glass", north["uid"], "--reason", "urgent", "--as", "nurse")
    assert r.returncode == 2 and "--reason" in r.stderr
    r = cli("break-glass", north["uid"], "--reason", "her own clinic is closed tonight", "--as", "nurse",
            "--format", "json")  # fmt: skip
    assert r.returncode == 0 and json.loads(r.stdout)["patient_uid"] == north["uid"], r.stderr
    assert cli("status", north["uid"], "--as", "nurse").returncode == 0


def test_second_factors_from_the_command_line(cli: Cli) -> None:
    """ASVS 4.3.1 at the command line: the admin's code comes in KETASIM_TOTP; an admin
    without a factor may only set one up; anyone may add one; a lost phone is reset."""
    r = cli("audit", "--as", "admin", code="")
    assert r.returncode == 3 and "KETASIM_TOTP" in r.stdout, r.stdout  # the password alone is refused
    r = cli("second-factor", "--as", "admin", "--format", "json")
    assert r.returncode == 2 and "already set up" in r.stderr, r.stderr
    r = cli("add-user", "ops", "--role", "admin", "--password-stdin", "--as", "admin", new=PASSWORD)
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli("audit", "--as", "ops")
    assert r.returncode == 3 and "second-factor --as ops" in r.stdout, r.stdout
    r = cli("second-factor", "--as", "ops", new="12345")  # a QR code in the terminal and the key; a bad code
    assert r.returncode == 2 and "key: " in r.stdout and "otpauth://totp/" in r.stdout and "CODE" in r.stderr
    r = cli("second-factor", "--as", "ops", new="")  # no code at all (end of input)
    assert r.returncode == 2 and "CODE" in r.stderr and "Traceback" not in r.stderr, r.stderr
    cli.phones["nurse"] = _set_up_second_factor(cli, "nurse")  # not required of a nurse, but allowed
    assert cli("dashboard", "--as", "nurse", code="").returncode == 3
    assert cli("dashboard", "--as", "nurse").returncode == 0
    r = cli("change-user", "nurse", "--reset-second-factor", "--as", "admin")
    assert r.returncode == 0, r.stdout + r.stderr
    del cli.phones["nurse"]  # the phone is lost: the password alone signs her in again
    assert cli("dashboard", "--as", "nurse").returncode == 0
