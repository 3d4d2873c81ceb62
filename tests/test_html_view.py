"""The sandbox's HTML view in a real headless browser: a reminder shows as a public comment."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone

import pytest

from jsm_autopilot.connector.sweep import sweep_once

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def rendered_dom(url: str) -> str:
    """The DOM after Chromium loaded and rendered the page."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--dump-dom", url],
            capture_output=True, text=True, timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Chromium is not installed here (.ci/run installs it)")
def test_a_reminder_is_shown_as_a_public_comment(site_factory):
    assert CHROMIUM, "Chromium is missing: .ci/run installs the Debian package"
    site = site_factory(T0 - timedelta(days=1))
    key = site.create(summary="Users cannot upload <b>SCORM</b> packages")
    site.set_clock(T0)
    site.move(key, "Clarification required / On hold")
    site.set_clock(T0 + timedelta(days=10))
    sweep_once(site.client(), site.settings)

    listing = rendered_dom(f"{site.url}/")
    assert f'href="/browse/{key}"' in listing and "Clarification required / On hold" in listing

    page = rendered_dom(f"{site.url}/browse/{key}")
    assert "This is the first of three reminders." in page
    assert 'class="comment public"' in page and 'class="comment internal"' in page
    assert "jsm-autopilot · clarification.reminder:" in page  # the agents' note, marked internal
    assert "&lt;b&gt;SCORM&lt;/b&gt;" in page, "ticket text is escaped, never markup"


def delivery_site(site_factory):
    """A waiting ticket reminded by a sweep, and a Delivery ticket with a table that links to it."""
    from tests.site import AGENT

    site = site_factory(T0 - timedelta(days=1))
    waiting = site.create(summary="Upload fails")
    delivery = site.create(issue_type="Delivery", summary="Delivery of 14.21.3.1", reporter=AGENT,
                           description=site.body("Included tickets\n| Ticket | Summary |\n| " + waiting + " | Upload fails |"))
    site._as(AGENT).post(site.api("issueLink"), json={"type": {"name": "Relates"}, "inwardIssue": {"key": delivery},
                                                      "outwardIssue": {"key": waiting}}).raise_for_status()
    site.set_clock(T0)
    site.move(waiting, "Clarification required / On hold")
    site.set_clock(T0 + timedelta(days=10))
    sweep_once(site.client(), site.settings)
    return site, waiting, delivery


def test_the_view_shows_local_times_the_automations_rules_filters_and_a_delivery_pages_table_and_links(site_factory):
    """Issue 17: times in the project's zone and labelled so; a Delivery ticket's table and links;
    which comment came from which rule; the list filtered by status and by rule."""
    import requests

    site, waiting, delivery = delivery_site(site_factory)
    page = requests.get(f"{site.url}/browse/{waiting}").text
    assert "2026-01-15 10:00 CET" in page and "UTC" not in page  # 09:00 UTC is 10:00 in Berlin
    assert "automation · clarification.reminder" in page
    shown = requests.get(f"{site.url}/browse/{delivery}").text
    assert "Included tickets" in shown and f'href="/browse/{waiting}"' in shown and "Relates" in shown
    listing = requests.get(f"{site.url}/", params={"rule": "clarification.reminder"}).text
    assert f'href="/browse/{waiting}"' in listing and f'href="/browse/{delivery}"' not in listing
    assert "times in Europe/Berlin" in listing
    by_status = requests.get(f"{site.url}/", params={"status": "Clarification required / On hold"}).text
    assert f'href="/browse/{waiting}"' in by_status and f'href="/browse/{delivery}"' not in by_status


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Chromium is not installed here (.ci/run installs it)")
def test_a_browser_shows_berlin_times_and_the_delivery_page(site_factory):
    assert CHROMIUM, "Chromium is missing: .ci/run installs the Debian package"
    site, waiting, delivery = delivery_site(site_factory)
    page = rendered_dom(f"{site.url}/browse/{waiting}")
    assert "2026-01-15 10:00 CET" in page and "automation · clarification.reminder" in page
    shown = rendered_dom(f"{site.url}/browse/{delivery}")
    assert "Included tickets" in shown and f'href="/browse/{waiting}"' in shown
