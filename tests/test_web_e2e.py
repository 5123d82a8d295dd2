"""Every page in a real browser: Playwright driving Debian's Chromium (headless) against
`ketasim serve`'s app on loopback, under the server's Content Security Policy: a page error, a
CSP violation or a request to any other host fails the test.  Screenshots go to
out/screenshots/.

`make test` installs the `chromium` package when it is missing."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from ketasim.api import Limits, create_app
from ketasim.trials.targets import load_targets

SHOTS = Path(__file__).resolve().parents[1] / "out" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    limits = Limits(
        validation_n=20, forecast_copies=100, max_patient_courses=20_000, cache_dir=tmp_path_factory.mktemp("cache")
    )
    app = create_app(limits)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def _watch(pg: Page, server: str, errors: list[str]) -> None:
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text or "Refused to" in m.text else None,
    )
    pg.on("request", lambda r: None if r.url.startswith((server, "data:", "blob:")) else errors.append(r.url))


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    """A page for the functional tests.  Playwright's ``wait_for_function`` evaluates strings,
    which the server's CSP forbids, so these contexts bypass the CSP; the CSP itself is checked
    by test_every_page_runs_under_the_content_security_policy."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, bypass_csp=True)
    pg = context.new_page()
    errors: list[str] = []
    _watch(pg, server, errors)
    yield pg
    context.close()
    assert not errors, errors


READY = {
    "/": "#symptoms .main-svg",
    "/how": "#walk .main-svg",
    "/plan": "#scale option",
    "/trial": "#run",
    "/validation": "#table tbody tr",
    "/docs": ".swagger-ui .opblock",
}


@pytest.mark.parametrize("path", sorted(READY))
def test_every_page_runs_under_the_content_security_policy(browser: Browser, server: str, path: str) -> None:
    """The real CSP (script-src 'self', no eval, no inline script): the page renders its charts
    and tables with no violation, no page error and no request to another host."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    _watch(pg, server, errors)
    pg.goto(server + path)
    expect(pg.locator(READY[path]).first).to_be_attached(timeout=180_000)
    context.close()
    assert not errors, errors


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _disclaimer(page: Page) -> None:
    expect(page.locator("#disclaimer")).to_contain_text("does not replace clinical judgement")


def test_explore_dose_slider_changes_the_charts(server: str, page: Page) -> None:
    page.goto(server + "/")
    _disclaimer(page)
    stats = page.locator("#stats")
    page.wait_for_function("document.querySelector('#stats').dataset.peak !== undefined", timeout=30_000)
    before = float(stats.get_attribute("data-peak") or 0)
    version = page.locator("#conc").get_attribute("data-version")
    page.locator("#dose").fill("1")
    page.locator("#dose").dispatch_event("input")
    page.wait_for_function(
        f"document.querySelector('#conc').dataset.version !== '{version}'"
        f" && Number(document.querySelector('#stats').dataset.peak) > {before * 1.5}",
        timeout=30_000,
    )
    after = float(stats.get_attribute("data-peak") or 0)
    assert after == pytest.approx(2 * before, rel=0.05)  # linear PK: double the dose, double the peak
    assert page.locator("#cascade .main-svg").count() > 0
    _shot(page, "explore")


def test_how_it_works_walks_through_one_infusion(server: str, page: Page) -> None:
    page.goto(server + "/how")
    _disclaimer(page)
    page.wait_for_selector("#walk .main-svg", timeout=30_000)
    page.locator("#play").click()
    page.wait_for_function("Number(document.querySelector('#caption').dataset.step) >= 2", timeout=30_000)
    expect(page.locator("#caption")).to_contain_text("Source:")
    _shot(page, "how_it_works")


def test_plan_shows_findings_and_the_band_narrows(server: str, page: Page) -> None:
    page.goto(server + "/plan")
    _disclaimer(page)
    page.locator("#sbp").fill("165")
    page.locator("#dbp").fill("100")
    page.locator("#submit").click()
    expect(page.locator("#decision")).to_contain_text("needs review", timeout=60_000)
    expect(page.locator("#findings")).to_contain_text("140/90")
    page.wait_for_function("document.querySelector('#forecast-stats').dataset.band !== undefined", timeout=60_000)
    first = float(page.locator("#forecast-stats").get_attribute("data-band") or 0)
    page.locator("#obs-day").fill("1")
    page.locator("#obs-score").fill("18")
    page.locator("#add-obs").click()
    page.wait_for_function(f"Number(document.querySelector('#forecast-stats').dataset.band) < {first}", timeout=60_000)
    expect(page.locator("#forecast-stats")).to_contain_text("was")
    with page.expect_download(timeout=60_000) as download:
        page.locator("#report").click()
    assert download.value.suggested_filename.endswith(".html")
    _shot(page, "plan")


def test_a_small_trial_runs_to_completion(server: str, page: Page) -> None:
    page.goto(server + "/trial")
    _disclaimer(page)
    page.wait_for_function("document.querySelector('#design').value.length > 100", timeout=30_000)
    page.locator("#n").fill("40")
    page.locator("#run").click()
    page.wait_for_function("document.querySelector('#status').dataset.status === 'done'", timeout=120_000)
    expect(page.locator("#endpoints table").first).to_be_visible()
    expect(page.locator("#parquet")).to_be_visible()
    assert page.locator("#trajectories .main-svg").count() > 0
    _shot(page, "trial")


def test_validation_plots_every_target(server: str, page: Page) -> None:
    page.goto(server + "/validation")
    _disclaimer(page)
    page.wait_for_function(
        f"document.querySelector('#summary').dataset.total === '{len(load_targets())}'", timeout=300_000
    )
    expect(page.locator("#summary")).to_contain_text("Cross-validated (the prediction test)")
    expect(page.locator("#summary")).to_contain_text("In-sample (the fit, not a prediction)")
    assert page.locator("#table tbody tr").count() == len(load_targets())
    _shot(page, "validation")


def test_api_docs_render_from_this_server_only(server: str, page: Page) -> None:
    page.goto(server + "/docs")
    expect(page.locator("body")).to_contain_text("does not replace clinical judgement")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=30_000)
    assert page.locator(".swagger-ui .opblock").count() >= 10
    _shot(page, "docs")


# ---- what the pages had wrong (issue 13: fixed on the way) --------------------------------------


@pytest.mark.parametrize("path", sorted(READY))
def test_no_page_is_wider_than_a_phone(browser: Browser, server: str, path: str) -> None:
    """At 375 px nothing overflows sideways (plan was 521 px wide, validation 884 px)."""
    context = browser.new_context(viewport={"width": 375, "height": 800}, bypass_csp=True)
    pg = context.new_page()
    pg.goto(server + path)
    expect(pg.locator(READY[path]).first).to_be_attached(timeout=180_000)
    width = pg.evaluate("document.documentElement.scrollWidth")
    context.close()
    assert width <= 375, (path, width)


def test_sliders_have_accessible_names(page: Page, server: str) -> None:
    page.goto(server + "/")
    for name in ("Dose", "Weight (kg)", "Age (years)", "Follow-up (days)"):
        expect(page.get_by_role("slider", name=name)).to_have_count(1)


def test_chart_axis_titles_clear_the_legend(page: Page, server: str) -> None:
    page.goto(server + "/")
    expect(page.locator("#cascade .legend").first).to_be_attached(timeout=60_000)
    title = page.locator("#cascade .g-xtitle").bounding_box()
    legend = page.locator("#cascade .legend").bounding_box()
    chart = page.locator("#cascade").bounding_box()
    assert title and legend and chart
    assert legend["y"] >= title["y"] + title["height"] - 1  # the legend starts below the axis title
    assert legend["y"] + legend["height"] <= chart["y"] + chart["height"] + 1  # and is not clipped


def test_how_it_works_shows_the_first_caption_and_steps(page: Page, server: str) -> None:
    page.goto(server + "/how")
    expect(page.locator("#caption")).to_have_attribute("data-step", "0", timeout=60_000)
    expect(page.locator("#caption")).to_contain_text("The drug enters")
    page.click("#next")
    expect(page.locator("#caption")).to_have_attribute("data-step", "1")
    page.click("#next")
    page.click("#prev")
    expect(page.locator("#caption")).to_have_attribute("data-step", "1")
    expect(page.locator("#caption")).to_contain_text("Receptors block")


def test_a_failing_api_is_said_not_computing_forever(page: Page, server: str) -> None:
    page.route("**/api/validation", lambda route: route.fulfill(status=500, body="boom"))
    page.goto(server + "/validation")
    expect(page.locator("#summary")).to_contain_text("could not be computed", timeout=30_000)
    page.route("**/api/simulate", lambda route: route.fulfill(status=500, body="boom"))
    page.goto(server + "/how")
    expect(page.locator("#caption")).to_contain_text("could not be loaded", timeout=30_000)


def test_plan_page_sends_the_missing_fields_and_observed_scores_can_be_removed(page: Page, server: str) -> None:
    page.goto(server + "/plan")
    expect(page.locator("#scale option").first).to_be_attached()
    page.select_option("#medications", ["benzodiazepines"])
    page.select_option("#other-diagnoses", ["gad"])
    page.select_option("#weight_basis", "ideal")
    page.select_option("#sex", "female")
    page.check("#pregnant")
    with page.expect_request("**/api/plan") as request:
        page.click("#submit")
    sent = request.value.post_data_json
    assert sent["concomitant_medications"] == ["benzodiazepines"] and sent["pregnant"] is True
    assert sent["weight_basis"] == "ideal" and sent["diagnoses"] == ["trd", "gad"]
    expect(page.locator("#findings")).to_contain_text("regnan", timeout=120_000)
    page.fill("#obs-score", "999")  # a wrong entry
    page.click("#add-obs")
    expect(page.locator("#error")).not_to_be_empty(timeout=60_000)
    page.click("[data-remove='0']")
    expect(page.locator("#observed .obs")).to_have_count(0)
    with page.expect_response("**/api/plan") as response:
        page.click("#submit")
    assert response.value.ok  # no longer blocked by the wrong entry


def test_plan_page_shows_the_review_the_maintenance_trade_off_and_off_label_methods(page: Page, server: str) -> None:
    """Issue 14 in the browser: an esketamine patient without an oral antidepressant gets the
    finding; the course review, the maintenance trade-off, BP-hold probabilities and the
    questionnaires are shown; an off-label oral plan says so."""
    page.goto(server + "/plan")
    expect(page.locator("#scale option").first).to_be_attached()
    page.select_option("#method", "intranasal")
    with page.expect_request("**/api/plan") as request:
        page.click("#submit")
    assert "oral_antidepressant" not in request.value.post_data_json
    expect(page.locator("#findings")).to_contain_text("oral antidepressant", timeout=120_000)
    expect(page.locator("#review-status")).to_have_attribute("data-status", "continue")
    expect(page.locator("#maintenance")).to_contain_text("sessions a month")
    expect(page.locator("#sessions")).to_contain_text("weeks 5-8")
    expect(page.locator("#monitoring")).to_contain_text("%")
    expect(page.locator("#measurement")).to_contain_text("C-SSRS")
    page.select_option("#oral_antidepressant", "ssri")
    page.select_option("#method", "oral")
    page.locator("#obs-day").fill("19")
    page.locator("#obs-score").fill("32")
    with page.expect_request("**/api/plan") as request:
        page.click("#add-obs")
    sent = request.value.post_data_json
    assert sent["treatment"] == {"drug": "racemic_ketamine", "route": "oral"} and sent["oral_antidepressant"] == "ssri"
    expect(page.locator("#method-title")).to_contain_text("off-label", timeout=120_000)
    expect(page.locator("#review-status")).to_have_attribute("data-status", "stop")
    expect(page.locator("#maintenance")).to_contain_text("No maintenance is planned", ignore_case=True)
