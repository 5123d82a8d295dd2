"""``ketasim clinic``: the clinic's record (the registry) from the command line.

Every command but ``init`` acts for a signed-in person: ``--as USER`` and the password from
the ``KETASIM_PASSWORD`` environment variable or a hidden prompt, and for an account with a
second factor (every administrator) the authenticator's current code in ``KETASIM_TOTP``
(set one up with ``clinic second-factor``).  Input files are YAML or
JSON (fields: docs/registry.md).  Refused input exits 2 naming the field; a permission
refused exits 3.  Decision support: it does not replace clinical judgement.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.table import Table

from ketasim import DISCLAIMER
from ketasim.cli._app import (
    FormatOption,
    OutputFormat,
    ParamsOption,
    console,
    disclaimer,
    echo_json,
    input_file,
    output_file,
    parameters,
    refusing,
    writing,
)
from ketasim.errors import InputError
from ketasim.io.files import read_document
from ketasim.registry._auth import ENROL_FIRST

clinic_app = typer.Typer(
    name="clinic",
    help="The clinic registry: patients, sessions, vitals, questionnaires, plans, alerts, REMS forms, FHIR."
    f"\n\n{DISCLAIMER}",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL: sqlite:///PATH (default under the user's data folder) or postgresql+psycopg://…"
    ),
]
AsOption = Annotated[
    str,
    typer.Option(
        "--as", help="Your user name (password: KETASIM_PASSWORD or a prompt; second-factor code: KETASIM_TOTP)."
    ),
]
PASSWORD_ENV = "KETASIM_PASSWORD"
CODE_ENV = "KETASIM_TOTP"
NEW_PASSWORD_ENV = "KETASIM_NEW_PASSWORD"


def _open(db: str | None, *, create: bool = False) -> Any:
    """The registry at ``--db`` (or KETASIM_DB); only ``init`` and ``demo`` create one."""
    from ketasim.registry import Registry

    with refusing("--db", {"db": "--db"}):
        return Registry.open(db or os.environ.get("KETASIM_DB"), create=create)


def _password(env: str, prompt: str) -> str:
    value = os.environ.get(env)
    return value if value is not None else str(typer.prompt(prompt, hide_input=True))


@contextmanager
def signed_in(db: str | None, username: str, *, enrolling: bool = False) -> Iterator[tuple[Any, Any, str]]:
    """(registry, actor, session token) for the block; the sign-in and the sign-out are
    audited; a refused permission exits 3 with its reason. An administrator without a second
    factor may only set one up (``enrolling``)."""
    registry = _open(db)
    password = _password(PASSWORD_ENV, f"password for {username}")
    try:
        actor, token, _ = registry.login(username, password, code=os.environ.get(CODE_ENV, ""))
    except PermissionError as err:
        console.print(
            f"refused: {err} (an account with a second factor gives the app's code in {CODE_ENV}; "
            "each code signs in once: for another command, wait for the next one)"
        )
        raise typer.Exit(3) from None
    if actor.enrol_only and not enrolling:
        registry.logout(token)
        console.print(f"refused: {ENROL_FIRST}: ketasim clinic second-factor --as {username}")
        raise typer.Exit(3)
    try:
        yield registry, actor, token
    except PermissionError as err:
        console.print(f"refused: {err}")
        raise typer.Exit(3) from None
    finally:
        registry.logout(token)


@contextmanager
def acting(db: str | None, username: str) -> Iterator[tuple[Any, Any]]:
    """(registry, actor) for the block, as :func:`signed_in`."""
    with signed_in(db, username) as (registry, actor, _):
        yield registry, actor


def _document(arg: str, path: Path) -> Any:
    from ketasim.registry import RegistryError

    input_file(arg, path)
    with refusing(arg):
        return read_document(path, RegistryError, "(file)")


def _out(result: BaseModel | list[BaseModel], output_format: OutputFormat, rows: list[tuple[str, str]]) -> None:
    if output_format is OutputFormat.json:
        if isinstance(result, list):
            typer.echo(json.dumps([r.model_dump(mode="json") for r in result], allow_nan=False))
        else:
            echo_json(result)
        return
    table = Table(show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    disclaimer()


@clinic_app.command("init")
def init_command(db: DbOption = None) -> None:
    """Create or upgrade the registry's database (idempotent)."""
    from ketasim.registry import default_url

    _open(db, create=True)
    shown = db or os.environ.get("KETASIM_DB") or default_url()
    console.print(f"registry ready: {shown.split('@')[-1]}")


@clinic_app.command("demo")
def demo_command(db: DbOption = None) -> None:
    """Create a demo clinic in an empty database: four accounts (demo-admin, demo-doctor,
    demo-nurse, demo-viewer; the password is printed: for a demo database only) and one
    synthetic patient three weeks into an esketamine course."""
    from ketasim.registry import create_demo

    registry = _open(db, create=True)
    with refusing("--db", {"db": "--db"}):
        made = create_demo(registry)
    shown = (db or os.environ.get("KETASIM_DB") or "").split("@")[-1]
    console.print(f"demo clinic ready{': ' + shown if shown else ''}")
    console.print(f"accounts: {', '.join(made['users'])}; password: {made['password']} (demo only)")
    console.print("demo-admin sets up a second factor (an authenticator app) at its first sign-in")
    console.print(f"open it: ketasim serve --db {shown or '<URL>'}  then http://127.0.0.1:8000/clinic")


@clinic_app.command("add-user")
def add_user_command(
    username: Annotated[
        str, typer.Argument(metavar="NAME", help="The new person's user name (letters, digits, . - _).")
    ],
    role: Annotated[str, typer.Option(help="admin, prescriber, nurse or viewer.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from standard input (else a prompt).")
    ] = False,
    full_name: Annotated[str | None, typer.Option(help="Their full name (default: NAME).")] = None,
    site: Annotated[str, typer.Option(help="Their clinic site.")] = "main",
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as", help="An administrator, whose password is KETASIM_PASSWORD (omit only for the first account)."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Create a personal account (12–128 characters of password). The first account of an
    empty registry is an admin created without --as; later ones are created by an admin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = _password(NEW_PASSWORD_ENV, f"password for {username}")
    flags = {
        "role": "--role",
        "username": "NAME",
        "full_name": "--full-name",
        "site": "--site",
        "password": "--password-stdin",
    }
    if as_user is None:
        registry = _open(db)
        with refusing("NAME", flags):
            try:
                registry.create_user(None, username, full_name or username, role, password, site)
            except PermissionError as err:
                console.print(f"refused: {err} (give --as ADMIN)")
                raise typer.Exit(3) from None
    else:
        with acting(db, as_user) as (registry, actor), refusing("NAME", flags):
            registry.create_user(actor, username, full_name or username, role, password, site)
    console.print(f"account {username} ({role}) created")


@clinic_app.command("break-glass")
def break_glass_command(
    patient_uid: Annotated[str, typer.Argument(metavar="PATIENT", help="The patient's id (of another site).")],
    reason: Annotated[str, typer.Option(help="Why the emergency needs this record (10–500 characters).")],
    as_user: AsOption,
    db: DbOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Emergency access: a prescriber or nurse reaches a patient of another site for a few
    hours, after stating why. The grant and every use of it are audited for both sites."""
    with (
        acting(db, as_user) as (registry, actor),
        refusing("PATIENT", {"patient_uid": "PATIENT", "reason": "--reason"}),
    ):
        grant = registry.break_glass(actor, patient_uid, reason)
    _out(
        grant,
        output_format,
        [("emergency access", grant.uid), ("patient", grant.patient_uid), ("until", str(grant.until))],
    )


@clinic_app.command("second-factor")
def second_factor_command(
    as_user: AsOption,
    db: DbOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Set up a second factor for your own account (administrators must before anything else;
    anyone may): prints the key and its QR code for an authenticator app, then asks for the 6
    digits the app shows (standard input; with --format json the key comes as one JSON line).
    From then on, sign in with KETASIM_TOTP set to the app's current code."""
    import segno

    with (
        signed_in(db, as_user, enrolling=True) as (registry, _, token),
        refusing("CODE", {"code": "CODE", "second_factor": "--as"}),
    ):
        setup = registry.begin_second_factor(token)
        if output_format is OutputFormat.json:
            echo_json(setup)
        else:
            segno.make(setup.uri, error="m").terminal(compact=True)
            typer.echo(f"key: {setup.secret} (time-based, 6 digits, 30 s)\nuri: {setup.uri}")
        try:
            code = str(typer.prompt("the 6 digits the app shows", err=True))
        except typer.Abort:  # no code given (end of input): refused below, naming CODE
            code = ""
        _, new_token, _ = registry.confirm_second_factor(token, code)
        registry.logout(new_token)
    console.print(f"second factor set up: sign in with {CODE_ENV} set to the app's current code")


@clinic_app.command("change-user")
def change_user_command(
    username: Annotated[str, typer.Argument(metavar="NAME", help="The account's user name.")],
    as_user: AsOption,
    role: Annotated[str | None, typer.Option(help="A new role: admin, prescriber, nurse or viewer.")] = None,
    enable: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Let the account sign in again, or stop it.")
    ] = None,
    new_password: Annotated[
        bool,
        typer.Option(
            "--new-password",
            help=f"Reset the password: from {NEW_PASSWORD_ENV}, --password-stdin or a prompt (lifts a lock).",
        ),
    ] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the new password from stdin.")] = False,
    reset_second_factor: Annotated[
        bool,
        typer.Option(
            "--reset-second-factor", help="Forget the account's second factor (a lost phone): set up anew at sign-in."
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """An administrator changes an account of their own site: role, enabled or disabled (a
    person who leaves is disabled, never deleted), password, or second factor. Its open
    sessions end."""
    password = None
    if new_password or password_stdin:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = _password(NEW_PASSWORD_ENV, f"new password for {username}")
    flags = {"username": "NAME", "role": "--role", "password": "--new-password", "change": "NAME"}
    with acting(db, as_user) as (registry, actor), refusing("NAME", flags):
        given = {
            "role": role,
            "active": enable,
            "password": password,
            "reset_second_factor": reset_second_factor or None,
        }
        changed = registry.change_user(actor, username, **{k: v for k, v in given.items() if v is not None})
    state = "" if enable is None else (", enabled" if enable else ", disabled")
    console.print(f"account {changed.username} ({changed.role}{state}) changed; its open sessions ended")


@clinic_app.command("add-patient")
def add_patient_command(
    patient_file: Annotated[
        Path, typer.Argument(metavar="FILE", help="Patient (YAML/JSON): identity and planner fields.")
    ],
    as_user: AsOption,
    db: DbOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Register a patient; prints the patient's id."""
    data = _document("FILE", patient_file)
    with acting(db, as_user) as (registry, actor), refusing("FILE"):
        record = registry.add_patient(actor, data)
    _out(record, output_format, [("patient", record.uid), ("mrn", record.mrn), ("version", str(record.version))])


@clinic_app.command("add-session")
def add_session_command(
    session_file: Annotated[Path, typer.Argument(metavar="FILE", help="Session (YAML/JSON).")],
    as_user: AsOption,
    db: DbOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Record a treatment session (the dose is checked against the route's clinical bounds)."""
    data = _document("FILE", session_file)
    with acting(db, as_user) as (registry, actor), refusing("FILE"):
        record = registry.record_session(actor, data)
    _out(record, output_format, [("session", record.uid), ("started", str(record.started_at))])


@clinic_app.command("add-vitals")
def add_vitals_command(
    session_uid: Annotated[str, typer.Argument(metavar="SESSION", help="The session's id.")],
    vitals_file: Annotated[Path, typer.Argument(metavar="FILE", help="A list of readings (YAML/JSON).")],
    as_user: AsOption,
    db: DbOption = None,
) -> None:
    """Add readings (BP, heart rate, SpO2, respiratory rate) to a session."""
    data = _document("FILE", vitals_file)
    with acting(db, as_user) as (registry, actor), refusing("FILE"):
        rows = registry.add_vitals(actor, session_uid, data)
    console.print(f"{len(rows)} reading(s) added")


@clinic_app.command("add-questionnaire")
def add_questionnaire_command(
    questionnaire_file: Annotated[Path, typer.Argument(metavar="FILE", help="A questionnaire (YAML/JSON).")],
    as_user: AsOption,
    db: DbOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Record a questionnaire (items checked, the total computed) or a clinician rating."""
    data = _document("FILE", questionnaire_file)
    with acting(db, as_user) as (registry, actor), refusing("FILE"):
        record = registry.record_questionnaire(actor, data)
    _out(
        record,
        output_format,
        [("questionnaire", record.uid), ("instrument", record.instrument), ("total", f"{record.total:g}")],
    )


@clinic_app.command("status")
def status_command(
    patient_uid: Annotated[str, typer.Argument(metavar="PATIENT", help="The patient's id.")],
    as_user: AsOption,
    db: DbOption = None,
    on: Annotated[str | None, typer.Option(help="The date (YYYY-MM-DD; default today, UTC).")] = None,
    params_file: ParamsOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """The patient's course: observed scores on the forecast band, response and remission,
    the next session due and alerts."""
    from ketasim.registry import patient_status

    day = _date("--on", on)
    params = parameters(params_file)
    with acting(db, as_user) as (registry, actor), refusing("PATIENT", {"patient_uid": "PATIENT"}):
        status = patient_status(registry, actor, patient_uid, day, params)
    s = status.state
    rows = [
        ("scale", f"{s.scale} (baseline {s.baseline:g})"),
        ("latest", "-" if s.latest is None else f"{s.latest:g}"),
        ("response / remission", f"{'yes' if s.responded else 'no'} / {'yes' if s.remitted else 'no'}"),
        ("sessions done", str(status.sessions_done)),
        ("next session due", f"{status.next_session_due or '-'} ({status.next_session_basis})"),
    ]
    if status.forecast is not None:
        rows.append(("forecast response probability", f"{status.forecast.response_probability:.2f}"))
    elif status.forecast_note:
        rows.append(("forecast", status.forecast_note))
    rows += [(f"alert ({a.severity})", f"{a.kind}: {a.message}") for a in status.alerts]
    _out(status, output_format, rows)


@clinic_app.command("plan")
def plan_command(
    patient_uid: Annotated[str, typer.Argument(metavar="PATIENT", help="The patient's id.")],
    as_user: AsOption,
    approve: Annotated[bool, typer.Option(help="Approve the newest plan instead (prescribers).")] = False,
    db: DbOption = None,
    params_file: ParamsOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Run the planner on the stored patient and keep the plan (a new version), or approve it."""
    from ketasim.registry import approve_plan, save_plan

    params = parameters(params_file)
    with acting(db, as_user) as (registry, actor), refusing("PATIENT", {"patient_uid": "PATIENT"}):
        stored = (
            approve_plan(registry, actor, patient_uid) if approve else save_plan(registry, actor, patient_uid, params)
        )
    _out(
        stored,
        output_format,
        [("plan", stored.uid), ("version", str(stored.version)), ("approved", "yes" if stored.approved_by else "no")],
    )


@clinic_app.command("dashboard")
def dashboard_command(
    as_user: AsOption,
    db: DbOption = None,
    on: Annotated[str | None, typer.Option(help="The date (YYYY-MM-DD; default today, UTC).")] = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Patients due, alerts and REMS forms pending at your site."""
    from ketasim.registry import dashboard

    day = _date("--on", on)
    with acting(db, as_user) as (registry, actor):
        board = dashboard(registry, actor, day)
    rows = [(f"due {r.next_session_due}", f"{r.name} ({r.mrn})") for r in board.due_today]
    rows += [(f"alert ({a.severity})", f"{r.name}: {a.message}") for r in board.with_alerts for a in r.alerts]
    rows.append(("REMS forms not submitted", str(board.rems_pending)))
    _out(board, output_format, rows)


@clinic_app.command("rems-form")
def rems_form_command(
    session_uid: Annotated[str, typer.Argument(metavar="SESSION", help="An esketamine session's id.")],
    as_user: AsOption,
    html: Annotated[Path | None, typer.Option(help="Write the print-ready form (.html).")] = None,
    db: DbOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """The REMS Patient Monitoring Form of a session: pre-filled, missing fields, deadline."""
    from ketasim.registry import rems_form, rems_form_html
    from ketasim.reporting.html import write_html

    output_file("--html", html, (".html",))
    with acting(db, as_user) as (registry, actor), refusing("SESSION", {"session_uid": "SESSION"}):
        form = rems_form(registry, actor, session_uid)
    if html is not None:
        with writing("--html"):
            write_html(html, rems_form_html(form))
    rows = [
        ("status", form.status),
        ("deadline", str(form.deadline)),
        ("missing", ", ".join(form.missing_required) or "-"),
    ]
    _out(form, output_format, rows)


@clinic_app.command("export-fhir")
def export_fhir_command(
    patient_uid: Annotated[str, typer.Argument(metavar="PATIENT", help="The patient's id.")],
    as_user: AsOption,
    out: Annotated[Path, typer.Option(help="The Bundle to write (.json).")],
    db: DbOption = None,
) -> None:
    """Write the patient's course as a FHIR R4B Bundle (prescribers)."""
    from ketasim.io.files import atomic_path
    from ketasim.registry import export_fhir

    output_file("--out", out, (".json",))
    with acting(db, as_user) as (registry, actor), refusing("PATIENT", {"patient_uid": "PATIENT"}):
        bundle = export_fhir(registry, actor, patient_uid)
    with writing("--out"), atomic_path(out) as tmp:
        tmp.write_text(json.dumps(bundle, indent=1), encoding="utf-8")
    console.print(f"wrote {out} ({len(bundle.get('entry', []))} resources)")


@clinic_app.command("import-fhir")
def import_fhir_command(
    bundle_file: Annotated[Path, typer.Argument(metavar="FILE", help="A FHIR Bundle (.json) of one patient.")],
    as_user: AsOption,
    db: DbOption = None,
) -> None:
    """Add a FHIR Bundle's sessions, readings and scores to the registry's patient with its
    MRN: all of them or, if any is refused, none."""
    from ketasim.registry import import_fhir

    data = _document("FILE", bundle_file)
    with acting(db, as_user) as (registry, actor), refusing("FILE"):
        summary = import_fhir(registry, actor, data)
    console.print(
        f"imported {summary.sessions} session(s), {summary.readings} reading(s), "
        f"{summary.questionnaires} questionnaire(s)"
    )


@clinic_app.command("export-research")
def export_research_command(
    as_user: AsOption,
    out: Annotated[Path, typer.Option(help="The de-identified table to write (.parquet).")],
    db: DbOption = None,
) -> None:
    """Write the site's courses de-identified for research (Parquet; prescribers): pseudonyms
    that no other export shares, days since each patient's first session, no names, MRNs,
    dates of birth, lot numbers or free text (docs/registry.md)."""
    from ketasim.io.files import atomic_path
    from ketasim.registry import research_table

    output_file("--out", out, (".parquet",))
    with acting(db, as_user) as (registry, actor):
        table = research_table(registry, actor)
    import pyarrow.parquet as pq

    with writing("--out"), atomic_path(out) as tmp:
        pq.write_table(table, tmp)
    console.print(f"wrote {out} ({table.num_rows} rows, {len(set(table.column('patient').to_pylist()))} patients)")


@clinic_app.command("audit")
def audit_command(
    as_user: AsOption,
    patient: Annotated[str | None, typer.Option(help="Only this patient's events.")] = None,
    limit: Annotated[int, typer.Option(help="Newest events to show (1–10000).")] = 100,
    db: DbOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """The audit trail (administrators)."""
    with acting(db, as_user) as (registry, actor), refusing("--limit", {"limit": "--limit"}):
        rows = registry.audit_log(actor, patient, limit)
    if output_format is OutputFormat.json:
        _out(rows, output_format, [])
        return
    table = Table()
    for col in ("at", "user", "action", "entity", "record", "patient", "outcome"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(str(r.at), r.username, r.action, r.entity, r.entity_uid or "", r.patient_uid or "", r.outcome)
    console.print(table)


def _date(flag: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        with refusing(flag, {flag: flag}):
            raise InputError.one(flag, f"{value!r} is not a date (YYYY-MM-DD)") from None
    return None
