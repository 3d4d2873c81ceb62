"""Delivery tickets on the customer portal: customer requests of the Delivery request type,
shared with the organisation, seen by its contacts and no one else (PROCESS.md, deliveries)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from jsm_autopilot.connector.deliveries import DeliveryRequest
from tests.delivery_site import ACME, T0, DeliverySite


def contact(shop, organisation: str, email: str) -> requests.Session:
    """A portal customer of the organisation, signed in."""
    made = shop.agent.post(f"{shop.site.url}/rest/servicedeskapi/customer", json={"email": email, "displayName": email})
    made.raise_for_status()
    shop.agent.post(f"{shop.site.url}/rest/servicedeskapi/organization/{shop.org_ids[organisation]}/user",
                    json={"accountIds": [made.json()["accountId"]]}).raise_for_status()
    session = requests.Session()
    session.auth = (email, "portal")
    return session


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_the_organisations_contacts_see_the_delivery_ticket_on_the_portal_and_its_public_comments(site_factory, tmp_path, deployment):
    """PROCESS.md: the Delivery ticket is a customer request of the request type Delivery, shared
    with the organisation (guide Figure 18). JSM shows a customer only requests with a request type
    that they raised, take part in, or that are shared with their organisation."""
    site = site_factory(T0, deployment=deployment)
    shop = DeliverySite(site, tmp_path)
    shop.organisation(ACME)
    shop.organisation("Muster AG")
    shop.pending(ACME, "14.21.3.1", "Import fails")
    bob, max_ = contact(shop, ACME, "bob@acme.example"), contact(shop, "Muster AG", "max@muster.example")
    request = DeliveryRequest.parse({"organisation": ACME, "version": "14.21.3.1", "estimated_date": "2026-06-15"}, shop.settings)
    before = len(site.requests_made())
    key = shop.create(request).key
    assert site.state.issue(key).request_type == "Delivery"
    assert [r["path"] for r in site.requests_made()[before:] if r["method"] == "POST" and r["path"].endswith(("/issue", "/request"))] \
        == ["/rest/servicedeskapi/request"]
    site.set_clock(T0 + timedelta(minutes=5))
    moved = DeliveryRequest.parse({"organisation": ACME, "version": "14.21.3.1", "estimated_date": "2026-06-22"}, shop.settings)
    assert shop.create(moved).key == key  # the release manager moves the date: it is announced

    seen = bob.get(f"{site.url}/rest/servicedeskapi/request").json()["values"]
    assert [(r["issueKey"], r["requestTypeId"]) for r in seen] == [(key, site.state.request_type_named("Delivery"))]
    comments = bob.get(f"{site.url}/rest/servicedeskapi/request/{key}/comment").json()["values"]
    assert len(comments) == 1 and comments[0]["public"] and "22" in comments[0]["body"]
    assert max_.get(f"{site.url}/rest/servicedeskapi/request").json()["values"] == []
    assert max_.get(f"{site.url}/rest/servicedeskapi/request/{key}").status_code == 404


def test_an_issue_without_a_request_type_is_on_nobody_s_portal(shop):
    """Source: Atlassian, "What are request types?": issues created in Jira without a request type
    are not visible to customers on the portal, even when shared with their organisation."""
    bob = contact(shop, ACME, "bob@acme.example")
    assert shop.site.state.issue(shop.keys["a1"]).request_type is None  # made by an agent through the platform API
    assert bob.get(f"{shop.site.url}/rest/servicedeskapi/request/{shop.keys['a1']}").status_code == 404
    assert bob.post(f"{shop.site.url}/rest/servicedeskapi/request/{shop.keys['a1']}/comment", json={"body": "hi"}).status_code == 404
    typed = shop.site.create(summary="Portal ticket", customfield_10010="1", **{shop.settings.fields.organizations: [shop.org_ids[ACME]]})
    assert bob.get(f"{shop.site.url}/rest/servicedeskapi/request/{typed}").status_code == 200
