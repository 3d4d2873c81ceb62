"""delivery.version_required: in the core, and against the sandbox through a sweep and a webhook."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import requests

from jsm_autopilot.connector.sweep import sweep_once
from jsm_autopilot.rules.catalogue import evaluate
from jsm_autopilot.rules.model import Ticket
from tests.conftest import berlin
from tests.site import AGENT
from tests.tickets import after_actions

T0 = berlin(2026, 4, 1, 10, 0)


def pending(version) -> Ticket:
    return Ticket(key="SD-8", type="Software Defect", status="Delivery Pending", status_since=T0, created=T0 - timedelta(days=5),
                  custom_fields={"delivery_version": version} if version is not None else {})


def notes(ticket: Ticket, settings, at=T0 + timedelta(minutes=1)):
    return [a for a in evaluate(ticket, at, settings) if a.rule == "delivery.version_required"]


@pytest.mark.parametrize("version", ["14.21.3.1", "CUSTOM", "1.0.0.12"])
def test_a_patch_version_or_custom_is_enough(settings, version):
    assert notes(pending(version), settings) == []


@pytest.mark.parametrize("version, found", [(None, "nothing"), ("", "nothing"), ("14.21", "'14.21'"), ("custom", "'custom'"), ("v14.21.3.1", "'v14.21.3.1'")])
def test_a_missing_or_malformed_version_gets_one_note(settings, version, found):
    asked = notes(pending(version), settings)
    assert len(asked) == 1 and f"(found {found})" in asked[0].body and "14.21.3.1, or CUSTOM" in asked[0].body
    assert notes(after_actions(pending(version), asked, T0 + timedelta(minutes=1)), settings, T0 + timedelta(hours=1)) == []


def test_entering_delivery_pending_again_asks_again(settings):
    asked = after_actions(pending(None), notes(pending(None), settings), T0 + timedelta(minutes=1))
    again = replace(asked, status_since=T0 + timedelta(days=2))
    assert len(notes(again, settings, T0 + timedelta(days=2, minutes=1))) == 1


def test_through_a_sweep_and_through_a_webhook(site_factory, tmp_path):
    from tests.test_reclassify_end_to_end import WebhookPath

    for kind in ("sweep", "webhook"):
        site = site_factory(datetime(2026, 4, 1, 8, 0, tzinfo=timezone.utc))
        (tmp_path / kind).mkdir()
        path = WebhookPath(site, tmp_path / kind) if kind == "webhook" else None
        try:
            key = site.create()
            site.move(key, "In Review by Service Desk")
            site.move(key, "Delivery Pending")
            valid = site.create()
            site.move(valid, "In Review by Service Desk")
            requests.put(site.api(f"issue/{valid}"), json={"fields": {site.settings.fields.delivery_version: "14.21.3.1"}},
                         auth=(AGENT, "t")).raise_for_status()
            site.move(valid, "Delivery Pending")
            if path:
                path.drain()
            sweep_once(site.client(), site.settings)
            sweep_once(site.client(), site.settings)
            asked = [c for c in site.comments_by_bot(key, public=False) if "delivery.version_required" in str(c["body"])]
            assert len(asked) == 1, kind
            assert [c for c in site.comments_by_bot(valid, public=False) if "delivery.version_required" in str(c["body"])] == []
        finally:
            if path:
                path.close()
