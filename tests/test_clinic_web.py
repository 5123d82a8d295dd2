"""The clinic's pages in a real browser (Playwright + Debian's chromium) against a real server
on a real registry file: sign in, the dashboard, a patient's course, a questionnaire that
raises an alert, refusals (bad input, a missing CSRF token, another site's patient), sign out."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st
from playwright.sync_api import Browser, BrowserContext, Page, expect

from authenticator import Authenticator
from ketasim.api import Limits, create_app
from ketasim.registry import Registry
from test_web_e2e import _free_port, _watch

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    base = tmp_path_factory.mktemp("clinic")
    registry = Registry.open(f"sqlite:///{base / 'clinic.db'}")
    admin = registry.create_user(None, "admin", "Ada Admin", "admin", PASSWORD)
    registry.create_user(admin, "doc", "Dee Doctor", "prescriber", PASSWORD)
    registry.create_user(admin, "nurse", "Nat Nurse", "nurse", PASSWORD)
    registry.create_user(admin, "north", "Nor Th", "nurse", PASSWORD, site="north")
    registry.create_user(admin, "viewer", "Vi Ewer", "viewer", PASSWORD)
    doc = registry.actor("doc")
    uid = registry.add_patient(
        doc,
        {
            "mrn": "MRN-42",
            "given_name": "Olive",
            "family_name": "Tester",
            "birth_date": "1971-07-04",
            "sex": "female",
            "clinical": {
                "weight_kg": 64,
                "height_cm": 160,
                "diagnoses": ["trd"],
                "failed_antidepressant_trials": 2,
                "vitals": {"systolic_mmhg": 118, "diastolic_mmhg": 74, "heart_rate_bpm": 68, "spo2_pct": 98},
                "baseline_scores": {"MADRS": 31},
                "treatment": {"drug": "esketamine", "route": "intranasal"},
            },
        },
    ).uid
    start = datetime.now(UTC) - timedelta(days=2)
    registry.record_session(
        doc,
        {
            "patient_uid": uid,
            "started_at": start.isoformat(),
            "drug": "esketamine",
            "route": "intranasal",
            "dose_mg": 56,
            "lot_number": "L-1",
        },
    )
    registry.record_questionnaire(
        doc,
        {"patient_uid": uid, "instrument": "MADRS", "taken_at": (start + timedelta(days=1)).isoformat(), "total": 20},
    )
    limits = Limits(forecast_copies=100, cache_dir=base / "cache", sign_ins_per_minute=100)  # one browser, many
    app = create_app(limits, registry=registry)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{port}", uid
    srv.should_exit = True
    thread.join(timeout=10)


def _signed_in_page(browser: Browser, url: str, user: str) -> tuple[BrowserContext, Page, list[str]]:
    """A new browser context signed in as ``user``, its page, and the page's errors (watched)."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    _watch(page, url, errors)
    _sign_in(page, url, user)
    return context, page, errors


def _sign_in(page: object, url: str, user: str, password: str = PASSWORD, code: str = "") -> None:
    page.goto(f"{url}/clinic")  # type: ignore[attr-defined]
    page.fill("input[name=username]", user)  # type: ignore[attr-defined]
    page.fill("input[name=password]", password)  # type: ignore[attr-defined]
    page.fill("input[name=code]", code)  # type: ignore[attr-defined]
    page.click("#sign-in")  # type: ignore[attr-defined]


def test_a_nurse_records_a_questionnaire_and_the_alert_reaches_the_dashboard(
    browser: Browser, clinic: tuple[str, str], tmp_path: Path
) -> None:
    url, uid = clinic
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    _watch(page, url, errors)
    page.goto(f"{url}/clinic")
    expect(page).to_have_url(f"{url}/clinic/login")
    _sign_in(page, url, "nurse", "not the password")
    expect(page.locator(".error")).to_contain_text("wrong password")
    _sign_in(page, url, "nurse")
    expect(page.locator("h1")).to_contain_text("main")
    expect(page.locator("#disclaimer")).to_contain_text("does not replace clinical judgement")
    cookie = next(c for c in context.cookies() if c["name"] == "ks_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    page.goto(f"{url}/clinic/patients/{uid}")
    expect(page.locator("#forecast-chart")).to_be_visible()
    expect(page.locator("#course")).to_contain_text("latest 20")
    page.select_option("select[name=instrument]", "PHQ-9")
    page.fill("input[name=items]", "1 2")
    page.click("#save-questionnaire")
    expect(page.locator("#form-error")).to_contain_text("items: PHQ-9 has 9 items")
    page.select_option("select[name=instrument]", "PHQ-9")
    page.fill("input[name=items]", "1 1 1 1 1 1 1 1 2")
    page.click("#save-questionnaire")
    expect(page.locator("#questionnaires")).to_contain_text("PHQ-9")
    expect(page.locator("#patient-alerts")).to_contain_text("item 9")
    # the session sheet: a session with its readings at the label's times
    page.fill("input[name=dose_mg]", "56")
    page.fill("input[name=lot_number]", "LOT-77")
    page.fill("input[name=started_minutes_ago]", "130")
    for i, (sbp, dbp) in enumerate(((128, 80), (184, 96), (132, 82))):
        page.fill(f"input[name=systolic_mmhg_{i}]", str(sbp))
        page.fill(f"input[name=diastolic_mmhg_{i}]", str(dbp))
    page.fill("input[name=spo2_pct_2]", "97")
    page.click("#save-session")
    expect(page.locator("#sessions")).to_contain_text("56.0")
    expect(page.locator("#patient-alerts")).to_contain_text("184/96")
    page.goto(f"{url}/clinic")
    expect(page.locator("#alerts")).to_contain_text("item 9")
    expect(page.locator("#alerts")).to_contain_text("184/96")
    expect(page.locator("#rems-pending")).to_have_text("2")
    page.goto(f"{url}/clinic/patients/{uid}")
    page.locator("#sessions a").last.click()
    expect(page.locator("body")).to_contain_text("Not ready to submit")
    expect(page.locator("body")).to_contain_text("184/96")  # the 40-min reading, pre-filled
    expect(page.locator("li.missing").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "dashboard.png"))

    # a POST without the form's CSRF token is refused, with the session cookie attached
    jar = {c["name"]: c["value"] for c in context.cookies()}
    forged = httpx.post(
        f"{url}/clinic/patients/{uid}/questionnaires",
        data={"instrument": "MADRS", "total": "5"},
        cookies=jar,
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "content-security-policy" in forged.headers

    page.goto(f"{url}/clinic")
    page.click("#logout")
    expect(page).to_have_url(f"{url}/clinic/login")
    stale = httpx.get(f"{url}/clinic", cookies=jar, follow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"] == "/clinic/login"
    assert errors == []
    context.close()


def test_another_sites_nurse_cannot_open_the_patient(browser: Browser, clinic: tuple[str, str]) -> None:
    url, uid = clinic
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, url, "north")
    expect(page.locator("h1")).to_contain_text("north")
    response = page.goto(f"{url}/clinic/patients/{uid}")
    assert response is not None and response.status == 404
    expect(page.locator(".error")).to_contain_text("not a patient")
    expect(page.locator("body")).not_to_contain_text("Tester")
    context.close()


def test_a_viewer_reads_but_cannot_edit(browser: Browser, clinic: tuple[str, str]) -> None:
    url, uid = clinic
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, url, "viewer")
    page.goto(f"{url}/clinic/patients/{uid}")
    expect(page.locator("#course")).to_be_visible()
    expect(page.locator("#questionnaire-form")).to_have_count(0)
    expect(page.locator("#session-form")).to_have_count(0)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")  # the sign-out form's token
    jar = {c["name"]: c["value"] for c in context.cookies()}
    forged = httpx.post(
        f"{url}/clinic/patients/{uid}/questionnaires",
        data={"instrument": "MADRS", "total": "5", "csrf": csrf or ""},
        cookies=jar,
        follow_redirects=False,
    )
    assert forged.status_code == 403 and "may not write" in forged.text
    context.close()


def test_an_admin_sets_up_a_second_factor_then_reads_and_exports_the_audit_and_a_nurse_searches(
    browser: Browser, clinic: tuple[str, str]
) -> None:
    url, uid = clinic
    context, page, errors = _signed_in_page(browser, url, "admin")  # no factor yet: to set one up only
    expect(page).to_have_url(f"{url}/clinic/second-factor")
    expect(page.locator("#second-factor-qr svg")).to_be_visible()
    page.goto(f"{url}/clinic/audit")
    expect(page).to_have_url(f"{url}/clinic/second-factor")
    secret = page.locator("#second-factor-secret").inner_text().replace(" ", "")
    phone = Authenticator(secret)
    jar = {c["name"]: c["value"] for c in context.cookies()}
    forged = httpx.post(f"{url}/clinic/second-factor", data={"code": phone.totp.now()}, cookies=jar)
    assert forged.status_code == 403  # the set-up form needs its CSRF token too
    page.screenshot(path="/tmp/s35_second_factor.png", full_page=True)
    page.fill("#second-factor-code", f"{(int(phone.totp.now()) + 1) % 10**6:06d}")  # a wrong code
    page.click("#second-factor-confirm")
    expect(page.locator("#second-factor-message")).to_contain_text("code")
    assert page.locator("#second-factor-secret").inner_text().replace(" ", "") == secret  # the same key again
    other = browser.new_context()  # another browser signed in with the password alone
    other_page = other.new_page()
    _sign_in(other_page, url, "admin")
    expect(other_page).to_have_url(f"{url}/clinic/second-factor")
    assert other_page.locator("#second-factor-secret").inner_text().replace(" ", "") != secret  # its own key
    page.fill("#second-factor-code", phone.code())
    page.click("#second-factor-confirm")
    expect(page).to_have_url(f"{url}/clinic/audit")
    other_page.goto(f"{url}/clinic/audit")
    expect(other_page).to_have_url(f"{url}/clinic/login")  # its session ended: it never becomes complete
    other.close()
    page.click("#logout")
    _sign_in(page, url, "admin")  # the password alone no longer signs in
    expect(page.locator(".error")).to_contain_text("wrong password or code")
    _sign_in(page, url, "admin", code=phone.code())
    expect(page).to_have_url(f"{url}/clinic/audit")
    expect(page.locator("#audit")).to_contain_text("login")
    page.fill("input[name=patient]", uid)
    page.click("#audit-filter")
    expect(page.locator("#audit")).to_contain_text("create")
    with page.expect_download() as download:
        page.click("#audit-csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "at,user,action,entity,record,patient_id,outcome" and len(lines) > 1
    assert "Tester" not in "\n".join(lines)  # identifiers only
    assert page.goto(f"{url}/clinic/patients/{uid}").status == 403  # admins see no clinical record
    assert not errors, errors
    context.close()
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, url, "nurse")
    page.goto(f"{url}/clinic/patients")
    page.fill("#search input[name=q]", "mrn-42")
    page.click("#search button")
    expect(page.locator("#patients")).to_contain_text("Tester, Olive")
    assert "mrn-42" not in page.url.casefold()  # posted: a name or MRN never sits in a URL (audit)
    page.fill("#search input[name=q]", "nobody")
    page.click("#search button")
    expect(page.locator("#patients")).not_to_contain_text("Tester")
    context.close()


def test_a_nurse_of_another_site_breaks_the_glass_in_the_browser(browser: Browser, clinic: tuple[str, str]) -> None:
    """HIPAA §164.312(a)(2)(ii) on the pages: a reason first, then the other site's record,
    marked as emergency access; a viewer has no such form."""
    url, uid = clinic
    context, page, errors = _signed_in_page(browser, url, "north")
    assert page.goto(f"{url}/clinic/patients/{uid}").status == 404  # another site's: as unknown
    page.goto(f"{url}/clinic/patients")
    page.click("#break-glass summary")
    page.fill("#break-glass input[name=patient]", uid)
    page.fill("#break-glass input[name=reason]", "x" * 9)
    page.evaluate("document.querySelector('#break-glass input[name=reason]').removeAttribute('minlength')")
    page.click("#break-glass-open")
    expect(page.locator("#form-error")).to_contain_text("reason")  # the server checks it too
    page.fill("#break-glass input[name=patient]", "not-a-patient")
    page.fill("#break-glass input[name=reason]", "brought to our emergency room tonight")
    page.click("#break-glass-open")
    expect(page.locator("#form-error")).to_contain_text("patient_uid")
    assert page.locator("#break-glass input[name=reason]").input_value() == "brought to our emergency room tonight"
    page.fill("#break-glass input[name=patient]", uid)
    page.fill("#break-glass input[name=reason]", "brought to our emergency room tonight")
    page.click("#break-glass-open")
    expect(page).to_have_url(f"{url}/clinic/patients/{uid}")
    expect(page.locator("#emergency-access")).to_contain_text("site main")
    expect(page.locator("h1")).to_contain_text("Tester, Olive")
    assert not errors, errors
    jar = {c["name"]: c["value"] for c in context.cookies()}
    forged = httpx.post(f"{url}/clinic/break-glass", data={"patient": uid, "reason": "a" * 20}, cookies=jar)
    assert forged.status_code == 403  # no CSRF token
    context.close()
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, url, "viewer")
    page.goto(f"{url}/clinic/patients")
    expect(page.locator("#patients")).to_be_visible()
    assert page.locator("#break-glass").count() == 0
    context.close()


def test_a_nurse_registers_a_new_patient_in_the_browser(browser: Browser, clinic: tuple[str, str]) -> None:
    """The new-patient form: the registry's and the planner's checks name the field and keep
    what was typed; a registered patient opens on their course; a viewer is refused."""
    url, _ = clinic
    context, page, errors = _signed_in_page(browser, url, "nurse")
    page.goto(f"{url}/clinic/patients")
    page.click("#new-patient-link")
    expect(page).to_have_url(f"{url}/clinic/patients/new")
    fields = {"mrn": "MRN-77", "given_name": "Nell", "family_name": "Newcomer", "birth_date": "2015-02-03",
              "weight_kg": "61", "height_cm": "158", "failed_antidepressant_trials": "2", "systolic_mmhg": "121",
              "diastolic_mmhg": "77", "heart_rate_bpm": "70", "spo2_pct": "98", "baseline_score": "31"}  # fmt: skip
    for name, value in fields.items():
        page.fill(f"#new-patient [name={name}]", value)
    page.select_option("#new-patient [name=sex]", "female")
    page.select_option("#new-patient [name=treatment]", "esketamine intranasal")
    page.click("#add-patient")
    expect(page.locator("#form-error")).to_contain_text("birth_date")  # a child: adults only
    assert page.locator("#new-patient [name=family_name]").input_value() == "Newcomer"  # kept
    assert page.locator("#new-patient [name=treatment]").input_value() == "esketamine intranasal"
    page.fill("#new-patient [name=birth_date]", "1984-02-03")
    page.fill("#new-patient [name=diastolic_mmhg]", "130")
    page.click("#add-patient")
    expect(page.locator("#form-error")).to_contain_text("diastolic")  # the planner's rule: below systolic
    page.fill("#new-patient [name=diastolic_mmhg]", "77")
    page.select_option("#new-patient [name=scale]", "Y-BOCS")
    page.click("#add-patient")
    expect(page.locator("#form-error")).to_contain_text("Y-BOCS")  # not a scale of depression
    page.select_option("#new-patient [name=scale]", "MADRS")
    page.click("#add-patient")
    expect(page.locator("h1")).to_contain_text("Newcomer, Nell")
    expect(page.locator("#course")).to_contain_text("baseline 31")
    page.goto(f"{url}/clinic/patients/new")
    for name, value in {**fields, "birth_date": "1984-02-03"}.items():
        page.fill(f"#new-patient [name={name}]", value)
    page.click("#add-patient")
    expect(page.locator("#form-error")).to_contain_text("mrn")  # already registered at this site
    assert not errors, errors
    page.screenshot(path="/tmp/s35_new_patient.png", full_page=True)
    context.close()
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, url, "viewer")
    assert page.goto(f"{url}/clinic/patients/new").status == 403
    assert page.locator("#new-patient-link").count() == 0
    context.close()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=12), st.floats(allow_nan=True, allow_infinity=True).map(repr)))
def test_a_form_number_is_ascii_decimal_and_finite_or_refused_naming_the_field(text: str) -> None:
    """The pages' number fields: what ``float`` reads beyond ASCII decimals ('٧٠', '７０',
    '1_0', 'nan', 'inf') is refused naming the field, as the JSON API refuses non-numbers."""
    from ketasim.api.routers._forms import number
    from ketasim.errors import InputError

    plain = re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", text.strip(), flags=re.ASCII)
    finite = plain is not None and math.isfinite(float(text))
    try:
        value = number("weight_kg", text)
    except InputError as err:
        assert not finite and err.problems[0][0] == "weight_kg"
    else:
        assert finite and value == float(text)
