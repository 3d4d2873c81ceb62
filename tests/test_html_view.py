"""The sandbox's HTML view in a real headless browser: a reminder shows as a public comment."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone

import pytest

from connector.sweep import sweep_once

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
    assert "This is reminder 1 of 3." in page
    assert 'class="comment public"' in page and 'class="comment internal"' in page
    assert "jsm-autopilot · clarification.reminder:" in page  # the agents' note, marked internal
    assert "&lt;b&gt;SCORM&lt;/b&gt;" in page, "ticket text is escaped, never markup"
