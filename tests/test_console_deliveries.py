"""The release managers' Delivery page (issue 31 item 3): choose from what waits, see the ticket as
the customer will, create or refresh it; the page, `delivery create` and `POST /api/deliveries`
share one validation (a date in the past, a version that is not one, an unknown organisation are
refused; nothing waiting asks for confirmation, ISSUE-NOTES 31)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from jsm_autopilot.connector.deliveries import Waiting, estimated_date_problem
from jsm_autopilot.console.app import delivery_fields, waiting_count
from tests.console_site import RELEASE_MANAGER, console_site, csrf_token
from tests.delivery_site import ACME


@pytest.fixture
def desk(shop, site_factory):
    shop.edit(shop.keys["a2"], {shop.settings.fields.confidential: "Yes"})
    running = console_site(site_factory, shop.store, site=shop.site)
    yield shop, running
    running.stop()


def signed_in(console):
    return console.signed_in(RELEASE_MANAGER)


def test_an_estimated_date_in_the_past_or_years_ahead_is_refused_unless_it_is_already_the_tickets():
    today = date(2026, 5, 4)
    assert estimated_date_problem(date(2026, 5, 3), today) == "2026-05-03 is in the past (today is 2026-05-04)"
    assert estimated_date_problem(date(2026, 5, 4), today) is None
    assert estimated_date_problem(date(2026, 5, 3), today, current=date(2026, 5, 3)) is None
    assert estimated_date_problem(date(9999, 12, 31), today) == "9999-12-31 is more than five years ahead"
    assert estimated_date_problem(None, today) is None


def test_the_form_becomes_the_request_the_cli_and_the_api_take():
    form = {"organisation": " Acme ", "version": "14.21.3.1", "estimated_date": "", "docs": "https://a.example/x\n\n https://b.example/y ",
            "environment": ""}
    assert delivery_fields(form) == {"organisation": " Acme ", "version": "14.21.3.1", "docs": ["https://a.example/x", "https://b.example/y"]}


def test_custom_tickets_count_as_waiting_for_every_version():
    waiting = [Waiting("Acme", "14.21.3.1", ("SD-1", "SD-2")), Waiting("Acme", "CUSTOM", ("SD-3",)), Waiting("Muster", "14.21.3.1", ("SD-4",))]
    assert waiting_count(waiting, "Acme", "14.21.3.1", "CUSTOM") == 3
    assert waiting_count(waiting, "Acme", "99.0.0.1", "CUSTOM") == 1
    assert waiting_count(waiting, "Other", "14.21.3.1", "CUSTOM") == 0


def test_the_page_lists_what_waits_by_organisation_and_version(desk):
    shop, console = desk
    page = signed_in(console).get(f"{console.url}/console/deliveries")
    assert page.status_code == 200
    row = r'<tr data-organisation="([^"]+)" data-version="([^"]+)"><td>[^<]*</td><td>[^<]*(?:<small>[^<]*</small>)?</td>\s*<td>(\d+)</td>'
    rows = re.findall(row, page.text)
    assert ("Acme Learning Ltd", "14.21.3.1", "2") in rows and ("Acme Learning Ltd", "CUSTOM", "1") in rows
    assert ("Muster AG", "14.21.3.1", "1") in rows and ("Acme Learning Ltd", "14.21.3.2", "1") in rows


def test_a_preview_shows_the_table_as_the_customer_will_and_creates_nothing(desk):
    shop, console = desk
    session = signed_in(console)
    page = session.get(f"{console.url}/console/deliveries")
    form = {"csrf_token": csrf_token(page.text), "organisation": ACME, "version": "14.21.3.1", "estimated_date": "2026-06-15",
            "docs": "https://docs.example.com/14.21.3.1", "environment": "Dedicated Cloud", "action": "preview"}
    preview = session.post(f"{console.url}/console/deliveries", data=form)
    assert preview.status_code == 200 and "Preview: what the customer will see" in preview.text
    table = preview.text.split('class="delivery-table"', 1)[1].split("</table>", 1)[0]
    for key in (shop.keys["a1"], shop.keys["a2"], shop.keys["custom"]):
        assert f"<td>{key}</td>" in table
    assert "Report totals wrong" not in table  # confidential: withheld
    assert "Import | fails on *bold* names" in table and "2026-06-15" in preview.text
    assert shop.deliveries() == []


def test_creating_makes_one_ticket_and_lists_it_as_open(desk):
    shop, console = desk
    session = signed_in(console)
    page = session.get(f"{console.url}/console/deliveries")
    form = {"csrf_token": csrf_token(page.text), "organisation": ACME, "version": "14.21.3.1", "estimated_date": "2026-06-15",
            "action": "create"}
    created = session.post(f"{console.url}/console/deliveries", data=form)
    assert created.status_code == 200 and "Created" in created.text
    [key] = shop.deliveries()
    assert f"/browse/{key}" in created.text
    assert shop.linked_keys(key) == sorted([shop.keys["a1"], shop.keys["a2"], shop.keys["custom"]])
    again = session.post(f"{console.url}/console/deliveries", data=form)
    assert "Refreshed" in again.text and shop.deliveries() == [key]
    listed = session.get(f"{console.url}/console/deliveries").text.split('class="open-deliveries"', 1)[1]
    assert f"/browse/{key}" in listed and "14.21.3.1" in listed and f"/browse/{shop.keys['a1']}" in listed


@pytest.mark.parametrize("changed, field", [
    ({"estimated_date": "2026-05-01"}, "estimated_date: 2026-05-01 is in the past (today is 2026-05-04)"),
    ({"version": "14.21"}, "version: &#39;14.21&#39; is not a patch version"),
    ({"organisation": "Nobody Ltd"}, "organisation: no JSM organisation is named &#39;Nobody Ltd&#39;"),
    ({"docs": "javascript:alert(1)"}, "docs: Value error, &#39;javascript:alert(1)&#39; is not an http(s) address"),
])
def test_bad_input_gets_a_clear_refusal_and_no_ticket(desk, changed, field):
    shop, console = desk
    session = signed_in(console)
    page = session.get(f"{console.url}/console/deliveries")
    form = {"csrf_token": csrf_token(page.text), "organisation": ACME, "version": "14.21.3.1", "action": "create", **changed}
    if changed.get("organisation"):
        form["confirm"] = "yes"  # nothing waits for an unknown organisation
    refused = session.post(f"{console.url}/console/deliveries", data=form)
    assert refused.status_code == 400 and field in refused.text
    assert shop.deliveries() == []


def test_nothing_waiting_asks_for_confirmation_then_creates(desk):
    shop, console = desk
    session = signed_in(console)
    page = session.get(f"{console.url}/console/deliveries")
    form = {"csrf_token": csrf_token(page.text), "organisation": "Muster AG", "version": "14.21.3.9", "action": "create"}
    asked = session.post(f"{console.url}/console/deliveries", data=form)
    assert asked.status_code == 409 and 'id="nothing-waiting"' in asked.text and shop.deliveries() == []
    confirmed = session.post(f"{console.url}/console/deliveries", data={**form, "confirm": "yes"})
    assert confirmed.status_code == 200 and len(shop.deliveries()) == 1


def test_the_api_refuses_a_date_in_the_past_as_the_page_does(shop):
    from jsm_autopilot.connector.deliveries import DeliveryRequest
    from jsm_autopilot.errors import DeliveryRequestError

    request = DeliveryRequest.parse({"organisation": ACME, "version": "14.21.3.1", "estimated_date": "2026-05-01"}, shop.settings)
    with pytest.raises(DeliveryRequestError) as refused:
        shop.create(request)
    assert refused.value.field == "estimated_date" and shop.deliveries() == []
