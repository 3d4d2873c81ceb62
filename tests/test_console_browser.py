"""The console in a real headless Chromium (Debian's `chromium`, driven by Playwright; .ci/run
installs it): signing in through the sandbox's Atlassian pages, switching a rule off, replaying a
dead letter, customer text shown as text, a forged CSRF token refused. Each page's screenshot is
saved under the test's output folder (and one of each is in docs/console/)."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from jsm_autopilot.store.rule_overrides import RuleOverrides
from tests.console_site import ADMIN, RELEASE_MANAGER, console_site
from tests.site import AGENT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Chromium is not installed here (.ci/run installs it)")
# Where the screenshots go: JSM_AUTOPILOT_TEST_OUTPUT, else test-output/ in the project (ignored by git).
OUTPUT = Path(os.environ.get("JSM_AUTOPILOT_TEST_OUTPUT") or Path(__file__).resolve().parent.parent / "test-output") / "console"


@pytest.fixture
def browser():
    assert CHROMIUM, "Chromium is missing: .ci/run installs the Debian package"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield launched
        launched.close()


def new_page(browser, width: int = 1280, height: int = 900, language: str = "en-GB"):
    context = browser.new_context(viewport={"width": width, "height": height}, locale=language)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" and "Failed to load resource" not in message.text else None)
    page.on("response", lambda response: problems.append(f"{response.status} {response.url}") if response.status >= 400 else None)
    page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}") or dialog.dismiss())
    page.problems = problems  # type: ignore[attr-defined]
    return page


def shot(page, name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, console, email: str) -> None:
    page.goto(f"{console.url}/console/")
    page.click("#sign-in-atlassian")
    page.fill("input[name=email]", email)  # the sandbox's Atlassian sign-in and consent page
    page.click("button[value=accept]")
    page.wait_for_load_state()


def test_an_admin_signs_in_switches_a_rule_off_and_the_next_sweep_skips_it(console, browser):
    page = new_page(browser)
    page.goto(f"{console.url}/console/")
    assert page.url.endswith("/console/sign-in")
    shot(page, "sign-in")
    sign_in(page, console, ADMIN)
    assert page.url.endswith("/console/overview") and "Signed in as Ada" in page.inner_text("header")
    page.click("nav >> text=Rules")
    row = page.locator('tr[data-rule="clarification.reminder"]')
    assert row.get_attribute("data-state") == "on"
    row.locator("button[value=off]").click()
    page.wait_for_selector('tr[data-rule="clarification.reminder"][data-state="off"]')
    assert "Ada" in page.inner_text("table.history")
    shot(page, "rules")
    report = console.service.scheduled_sweep()
    assert report is not None and report.firings_applied == 0 and console.site.comments_by_bot(console.key) == []
    page.problems.clear()  # type: ignore[attr-defined]
    # back on: the reminder goes out at the next sweep
    page.locator('tr[data-rule="clarification.reminder"] button[value=on]').click()
    page.wait_for_selector('tr[data-rule="clarification.reminder"][data-state="on"]')
    assert console.service.scheduled_sweep().firings_applied == 1
    page.goto(f"{console.url}/console/overview")
    page.wait_for_selector("#firings-chart canvas")  # uPlot drew it, under the strict CSP
    assert page.locator("table.sweeps tbody tr").count() == 2  # both sweeps of this replica
    shot(page, "overview")
    assert page.problems == []  # type: ignore[attr-defined]


def test_an_admin_replays_a_dead_letter_and_reads_a_ticket_whose_summary_holds_a_script(console, browser):
    store = console.service.store
    now = datetime.now(timezone.utc)
    key = console.site.create(summary="<script>alert('owned')</script> Upload fails", issue_type="Software Defect",
                              priority={"name": "P1"})
    store.add("delivery-7", "jira:issue_updated", key, b"{}", True, now)
    store.fail(store.claim("test-worker", now, timedelta(minutes=1)), now, "400 from Jira: Field 'resolution' is required.")
    # the reminder is applied (the audit has it), the defect's priority change only kept as a shadow firing
    RuleOverrides(store).set("reclassify.priority", None, True, "ada", now)
    console.service.scheduled_sweep()
    page = new_page(browser)
    sign_in(page, console, ADMIN)
    page.click("nav >> text=Dead letters")
    assert "Field 'resolution' is required." in page.inner_text("table.dead-letters")
    shot(page, "dead-letters")
    page.locator('tr[data-event="delivery-7"] button').click()
    page.wait_for_selector("text=Put back in the queue")
    assert store.find_event("delivery-7").status == "pending"
    page.click("nav >> text=Audit")
    page.fill("#why-key", key)
    page.click("form.why button")
    page.wait_for_selector(".ticket-summary")
    assert page.inner_text(".ticket-summary") == "<script>alert('owned')</script> Upload fails"
    shot(page, "audit-why")
    page.click("nav >> text=Shadow")
    assert key in page.inner_text("table.shadow") and "reclassify.priority" in page.inner_text("table.shadow")
    shot(page, "shadow")
    assert page.problems == []  # type: ignore[attr-defined]  (no alert ran)


def test_a_forged_csrf_token_is_refused_in_the_browser(console, browser):
    page = new_page(browser)
    sign_in(page, console, ADMIN)
    answer = page.request.post(f"{console.url}/console/rules/clarification.reminder", form={"action": "off", "csrf_token": "forged"})
    assert answer.status == 400
    missing = page.request.post(f"{console.url}/console/rules/clarification.reminder", form={"action": "off"})
    assert missing.status == 400
    assert console.service.switches.apply(console.service.base_settings).is_enabled("clarification.reminder")


def test_a_release_manager_is_admitted_and_an_agent_is_refused(console, browser):
    page = new_page(browser, width=390, height=844, language="de-DE")  # a phone, in German
    sign_in(page, console, RELEASE_MANAGER)
    assert page.url.endswith("/console/deliveries") and "Auslieferungen" in page.inner_text("main")
    shot(page, "release-manager-phone")
    agent = new_page(browser)
    sign_in(agent, console, AGENT)
    assert "in none of the groups the console admits" in agent.inner_text("main")
    shot(agent, "agent-refused")


def test_a_release_manager_previews_and_creates_a_delivery_ticket(shop, site_factory, browser):
    from tests.delivery_site import ACME

    running = console_site(site_factory, shop.store, site=shop.site)
    try:
        page = new_page(browser)
        sign_in(page, running, RELEASE_MANAGER)
        assert page.url.endswith("/console/deliveries")
        page.locator(f'tr[data-organisation="{ACME}"][data-version="14.21.3.1"] a').click()
        assert page.input_value("#organisation") == ACME and page.input_value("#version") == "14.21.3.1"
        page.fill("#estimated_date", "2026-06-15")
        page.fill("#docs", "https://docs.example.com/14.21.3.1")
        page.click("button[value=preview]")
        page.wait_for_selector("#delivery-result")
        shown = page.inner_text("table.delivery-table")
        assert shop.keys["a1"] in shown and "Import | fails on *bold* names" in shown
        shot(page, "deliveries-preview")
        assert shop.deliveries() == []
        page.click("button[value=create]")
        page.wait_for_selector("#delivery-result >> text=Created")
        [key] = shop.deliveries()
        assert shop.linked_keys(key) == sorted([shop.keys["a1"], shop.keys["a2"], shop.keys["custom"]])
        description = str(shop.read(key)["fields"]["description"])
        assert shop.keys["a1"] in description and shop.keys["other_version"] not in description
        shot(page, "deliveries")
        assert page.problems == []  # type: ignore[attr-defined]
        page.goto(f"{shop.site.url}/browse/{key}")  # the sandbox's view of the ticket, as an agent sees it in Jira
        assert "Delivery of Patch 14.21.3.1" in page.inner_text("body")
        shot(page, "delivery-ticket-in-jira")
    finally:
        running.stop()
