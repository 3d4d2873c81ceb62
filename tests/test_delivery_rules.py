"""delivery.create, refresh, date_changed and done in the core: a Delivery ticket and its tickets."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from jsm_autopilot.rules.actions import FieldChange, InternalComment, IssueLinkChange, PublicComment, Table, Transition
from jsm_autopilot.rules.deliveries import DeliveryView, evaluate_delivery, included
from jsm_autopilot.rules.model import FieldHistory, Firing, Link, Ticket
from tests.conftest import berlin

T0 = berlin(2026, 5, 4, 9, 0)
ACME = "Acme Learning Ltd"
MUSTER = "Muster AG"


def ticket(number: int, version: str | None = "14.21.3.1", status: str = "Delivery Pending", organisation: str = ACME,
           type_: str = "Software Defect", summary: str | None = None, firings=()) -> Ticket:
    return Ticket(key=f"SD-{number}", type=type_, status=status, status_since=T0 - timedelta(days=1), created=T0 - timedelta(days=9),
                  organisation=organisation, language="de" if organisation == MUSTER else "en",
                  summary=summary or f"Problem {number}", custom_fields={"delivery_version": version} if version else {},
                  firings=tuple(firings))


def delivery(status: str = "Planned", links=(), firings=(), organisation: str = ACME, version: str = "14.21.3.1",
             date: str | None = "2026-06-01", changes=(), summary: str = "Patch please", since=T0 - timedelta(hours=1)) -> Ticket:
    fields = {"delivery_version": version}
    if date:
        fields["estimated_delivery_date"] = date
    return Ticket(key="SD-100", type="Delivery", status=status, status_since=since, created=T0 - timedelta(hours=2),
                  organisation=organisation, language="de" if organisation == MUSTER else "en", summary=summary,
                  custom_fields=fields, links=tuple(links), firings=tuple(firings), field_changes=tuple(changes))


def link(number: int, link_type: str = "Relates") -> Link:
    return Link(f"L{number}", f"SD-{number}", link_type, "Software Defect")


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def test_create_fills_in_summary_table_and_links_for_the_version_and_custom(settings):
    pending = (ticket(3), ticket(1, version="CUSTOM", type_="Customisation"), ticket(2, version="14.21.3.2"),
               ticket(4, organisation=MUSTER), ticket(5, version=None), ticket(6, status="In Progress"))
    actions = evaluate_delivery(DeliveryView(delivery(), pending), T0, settings)
    assert {a.rule for a in actions} == {"delivery.create"}
    changes = {a.field: a.value for a in of(actions, FieldChange)}
    assert changes["summary"] == "Delivery of Patch 14.21.3.1"
    assert changes["description"] == Table(
        heading="The following Service Desk tickets are expected to be included in this delivery:",
        columns=("Key", "Request Type", "Summary"),
        rows=(("SD-1", "Customisation", "Problem 1"), ("SD-3", "Software Defect", "Problem 3")),
    )
    assert [(a.other, a.add) for a in of(actions, IssueLinkChange)] == [("SD-1", True), ("SD-3", True)]
    note = of(actions, InternalComment)[0].body
    assert note.startswith("jsm-autopilot · delivery.create:") and "SD-1, SD-3" in note


def test_a_german_organisation_gets_the_german_wording(settings):
    actions = evaluate_delivery(DeliveryView(delivery(organisation=MUSTER), (ticket(7, organisation=MUSTER),)), T0, settings)
    changes = {a.field: a.value for a in of(actions, FieldChange)}
    assert changes["summary"] == "Auslieferung von Patch 14.21.3.1"
    assert changes["description"].columns == ("Schlüssel", "Anfragetyp", "Zusammenfassung")


def test_once_created_and_linked_nothing_more_happens(settings):
    created = delivery(links=[link(3)], firings=[Firing("delivery.create", T0)], summary="Delivery of Patch 14.21.3.1")
    assert evaluate_delivery(DeliveryView(created, (ticket(3),), (ticket(3),)), T0 + timedelta(minutes=5), settings) == []


def test_refresh_adds_a_new_ticket_and_removes_one_that_left(settings):
    created = delivery(links=[link(3), link(8), link(9, "Blocks")], firings=[Firing("delivery.create", T0)],
                       summary="Delivery of Patch 14.21.3.1")
    back_in_progress = ticket(8, status="In Progress")
    actions = evaluate_delivery(DeliveryView(created, (ticket(3), ticket(5)), (ticket(3), back_in_progress)), T0 + timedelta(hours=1), settings)
    assert {a.rule for a in actions} == {"delivery.refresh"}
    assert [(a.other, a.add, a.link_id) for a in of(actions, IssueLinkChange)] == [("SD-5", True, None), ("SD-8", False, "L8")]
    assert [row[0] for row in of(actions, FieldChange)[0].value.rows] == ["SD-3", "SD-5"]
    assert "added SD-5; removed SD-8 (In Progress)" in of(actions, InternalComment)[0].body


def test_no_refresh_once_the_delivery_has_left_planned(settings):
    created = delivery(status="Delivered", links=[link(3)], firings=[Firing("delivery.create", T0)])
    actions = evaluate_delivery(DeliveryView(created, (ticket(3), ticket(5)), ()), T0 + timedelta(hours=1), settings)
    assert not [a for a in actions if a.rule in ("delivery.create", "delivery.refresh")]


def test_a_delivery_without_a_patch_version_or_organisation_is_left_alone(settings):
    for incomplete in (delivery(version="CUSTOM"), delivery(version="14.21"), delivery(organisation=None)):
        assert evaluate_delivery(DeliveryView(incomplete, (ticket(3),)), T0, settings) == []


def test_a_changed_date_is_announced_once_with_old_and_new(settings):
    change = FieldHistory("estimated_delivery_date", "2026-06-01", "2026-06-15", T0)
    moved = delivery(date="2026-06-15", changes=[change], links=[link(3)], firings=[Firing("delivery.create", T0 - timedelta(hours=1))],
                     summary="Delivery of Patch 14.21.3.1")
    actions = evaluate_delivery(DeliveryView(moved, (ticket(3),), (ticket(3),)), T0 + timedelta(minutes=1), settings)
    comment = of(actions, PublicComment)
    assert len(comment) == 1 and comment[0].issue == "SD-100" and comment[0].rule == "delivery.date_changed"
    assert "from 1 June 2026 to 15 June 2026" in comment[0].body and "14.21.3.1" in comment[0].body
    announced = replace(moved, firings=moved.firings + (Firing("delivery.date_changed", T0 + timedelta(minutes=1)),))
    assert evaluate_delivery(DeliveryView(announced, (ticket(3),), (ticket(3),)), T0 + timedelta(minutes=2), settings) == []


def test_a_date_changed_twice_before_announcing_names_the_first_old_and_the_current(settings):
    changes = [FieldHistory("estimated_delivery_date", "2026-06-01", "2026-06-08", T0),
               FieldHistory("estimated_delivery_date", "2026-06-08", "2026-06-15", T0 + timedelta(seconds=30))]
    moved = delivery(date="2026-06-15", changes=changes)
    comment = [a for a in evaluate_delivery(DeliveryView(moved), T0 + timedelta(minutes=1), settings) if isinstance(a, PublicComment)]
    assert "from 1 June 2026 to 15 June 2026" in comment[0].body


@pytest.mark.parametrize("changes, date", [
    ([FieldHistory("estimated_delivery_date", None, "2026-06-15", T0)], "2026-06-15"),  # a first date is no change
    ([FieldHistory("estimated_delivery_date", "2026-06-15", "2026-06-22", T0),
      FieldHistory("estimated_delivery_date", "2026-06-22", "2026-06-15", T0)], "2026-06-15"),  # changed back
    ([FieldHistory("estimated_delivery_date", "2026-06-01", "2026-06-15", T0 - timedelta(days=30))], "2026-06-15"),  # long ago
])
def test_what_is_not_announced(settings, changes, date):
    moved = delivery(date=date, changes=changes)
    assert [a for a in evaluate_delivery(DeliveryView(moved), T0 + timedelta(minutes=1), settings) if a.rule == "delivery.date_changed"] == []


def test_delivered_resolves_exactly_the_included_tickets_still_pending(settings):
    linked = (ticket(3), ticket(4, version="CUSTOM"), ticket(5, status="In Progress"), ticket(6, version="14.21.3.2"),
              ticket(7, organisation=MUSTER), ticket(9))
    done = delivery(status="Delivered", links=[link(3), link(4), link(5), link(6), link(7), link(9, "Blocks")],
                    firings=[Firing("delivery.create", T0 - timedelta(days=1))])
    actions = evaluate_delivery(DeliveryView(done, (), linked), T0, settings)
    assert sorted({a.issue for a in of(actions, Transition)}) == ["SD-3", "SD-4"]
    assert all(a.to_status == "Resolved" for a in of(actions, Transition))
    public = [a for a in of(actions, PublicComment) if a.rule == "delivery.done"]
    assert sorted(a.issue for a in public) == ["SD-3", "SD-4"] and all("patch 14.21.3.1 (SD-100)" in a.body for a in public)
    assert [a.issue for a in of(actions, InternalComment) if a.issue == "SD-100" and a.rule == "delivery.done"] == ["SD-100"]


@pytest.mark.parametrize("status", ["Delivered", "Stage installation completed", "Installation completed"])
def test_the_first_of_delivered_staged_or_installed_resolves_and_a_customisation_closes(settings, status):
    """Guide 3.1/3.7: "either by providing the delivery package or by installing it in the staging
    or production environment, the ticket status changes to Resolved"; 3.5: a Customisation closes."""
    linked = (ticket(3), ticket(4, version="CUSTOM", type_="Customisation"))
    reached = delivery(status=status, links=[link(3), link(4)], since=T0)
    actions = [a for a in evaluate_delivery(DeliveryView(reached, (), linked), T0 + timedelta(minutes=1), settings) if a.rule == "delivery.done"]
    assert [(a.issue, a.to_status) for a in of(actions, Transition)] == [("SD-3", "Resolved"), ("SD-4", "Closed")]
    comments = {a.issue: a for a in of(actions, PublicComment)}
    staged = status == "Stage installation completed"
    assert comments["SD-3"].template == ("delivery_done_staging" if staged else "delivery_done")
    assert comments["SD-4"].template == "delivery_closed"
    assert ("test the solution on your staging system" in comments["SD-3"].body) is staged
    assert "patch 14.21.3.1 (SD-100)" in comments["SD-3"].body and "patch 14.21.3.1 (SD-100)" in comments["SD-4"].body
    # How to confirm, and when it closes by itself: timers.resolved.close_after.
    assert "can be closed" in comments["SD-3"].body and "after 50 days" in comments["SD-3"].body
    # Once resolved, a later step (Installation completed after staging) leaves it alone.
    resolved = replace(ticket(3), status="Resolved")
    installed = replace(reached, status="Installation completed", status_since=T0 + timedelta(days=2))
    later = evaluate_delivery(DeliveryView(installed, (), (resolved,)), T0 + timedelta(days=2, minutes=1), settings)
    assert [a for a in later if a.rule == "delivery.done"] == []


def test_the_done_comment_is_german_for_a_german_organisation(settings):
    reached = delivery(status="Delivered", links=[link(7)], organisation=MUSTER, since=T0)
    comment = of(evaluate_delivery(DeliveryView(reached, (), (ticket(7, organisation=MUSTER),)), T0, settings), PublicComment)
    done = next(c for c in comment if c.rule == "delivery.done")
    assert done.language == "de" and "nach 50 Tagen automatisch geschlossen" in done.body


def test_delivered_announces_once_that_the_package_can_be_downloaded(settings):
    reached = delivery(status="Delivered", since=T0)
    first = [a for a in evaluate_delivery(DeliveryView(reached), T0 + timedelta(minutes=1), settings) if a.rule == "delivery.available"]
    assert [a.template for a in of(first, PublicComment)] == ["delivery_available"] and first[0].issue == "SD-100"
    assert "Patch 14.21.3.1 is now available for download" in of(first, PublicComment)[0].body
    told = replace(reached, firings=(Firing("delivery.available", T0 + timedelta(minutes=1)),))
    assert [a for a in evaluate_delivery(DeliveryView(told), T0 + timedelta(minutes=2), settings) if a.rule == "delivery.available"] == []
    staged = delivery(status="Stage installation completed", since=T0)
    assert [a for a in evaluate_delivery(DeliveryView(staged), T0, settings) if a.rule == "delivery.available"] == []


def maintained(when: str | None, changes=(), firings=(), status: str = "Planned") -> Ticket:
    base = delivery(status=status, changes=changes, firings=firings)
    fields = dict(base.custom_fields)
    if when:
        fields["maintenance_date"] = when
    return replace(base, custom_fields=fields)


def test_a_maintenance_date_is_announced_once_per_value(settings):
    set_at = T0 - timedelta(minutes=5)
    first = maintained("2026-06-05T22:00:00.000+0200", changes=[FieldHistory("maintenance_date", None, "x", set_at)])
    actions = [a for a in evaluate_delivery(DeliveryView(first), T0, settings) if a.rule == "delivery.maintenance"]
    (comment,) = of(actions, PublicComment)
    # In the customer's region's time (Acme: Melbourne), not the site's (Berlin, 22:00 CEST).
    assert "6 June 2026, 06:00 AEST" in comment.body and "14.21.3.1" in comment.body
    told = replace(first, firings=(Firing("delivery.maintenance", T0),))
    assert [a for a in evaluate_delivery(DeliveryView(told), T0 + timedelta(minutes=1), settings) if a.rule == "delivery.maintenance"] == []
    moved = replace(maintained("2026-06-12T22:00:00.000+0200", firings=told.firings,
                               changes=[FieldHistory("maintenance_date", None, "x", set_at),
                                        FieldHistory("maintenance_date", "x", "y", T0 + timedelta(hours=1))]))
    again = [a for a in evaluate_delivery(DeliveryView(moved), T0 + timedelta(hours=1, minutes=1), settings) if a.rule == "delivery.maintenance"]
    assert "13 June 2026, 06:00 AEST" in of(again, PublicComment)[0].body
    german = replace(first, organisation=MUSTER, language="de")
    (deutsch,) = of([a for a in evaluate_delivery(DeliveryView(german), T0, settings) if a.rule == "delivery.maintenance"], PublicComment)
    assert "5. Juni 2026, 22:00 Uhr MESZ" in deutsch.body


@pytest.mark.parametrize("when, changes, status", [
    (None, (), "Planned"),  # no date
    ("2026-05-01T22:00:00.000+0200", (), "Planned"),  # already past
    ("2026-06-05T22:00:00.000+0200", (FieldHistory("maintenance_date", None, "x", T0 - timedelta(days=30)),), "Planned"),  # history
    ("2026-06-05T22:00:00.000+0200", (), "Installation completed"),  # done
])
def test_what_maintenance_does_not_announce(settings, when, changes, status):
    quiet = maintained(when, changes=changes, status=status)
    assert [a for a in evaluate_delivery(DeliveryView(quiet), T0, settings) if a.rule == "delivery.maintenance"] == []


def test_an_overdue_delivery_asks_agents_once_per_date(settings):
    late = delivery(date="2026-05-03")  # T0 is 4 May
    actions = [a for a in evaluate_delivery(DeliveryView(late), T0, settings) if a.rule == "delivery.overdue"]
    assert of(actions, PublicComment) == [] and "2026-05-03 has passed" in of(actions, InternalComment)[0].body
    on_the_day = delivery(date="2026-05-04")
    assert [a for a in evaluate_delivery(DeliveryView(on_the_day), T0, settings) if a.rule == "delivery.overdue"] == []
    noted = replace(late, firings=(Firing("delivery.overdue", T0),))
    assert [a for a in evaluate_delivery(DeliveryView(noted), T0 + timedelta(days=1), settings) if a.rule == "delivery.overdue"] == []
    # A new date that passes in turn is noted again.
    moved = replace(noted, custom_fields={**noted.custom_fields, "estimated_delivery_date": "2026-05-05"},
                    field_changes=(FieldHistory("estimated_delivery_date", "2026-05-03", "2026-05-05", T0 + timedelta(hours=1)),))
    assert [a.rule for a in evaluate_delivery(DeliveryView(moved), T0 + timedelta(days=2), settings)
            if a.rule == "delivery.overdue"] == ["delivery.overdue"]
    delivered = replace(late, status="Delivered")
    assert [a for a in evaluate_delivery(DeliveryView(delivered), T0, settings) if a.rule == "delivery.overdue"] == []


def test_a_confidential_tickets_summary_is_withheld_from_the_table(settings):
    secret = replace(ticket(3, summary="Jane Doe's salary slip is wrong"), custom_fields={"delivery_version": "14.21.3.1", "confidential": "Yes"})
    actions = evaluate_delivery(DeliveryView(delivery(), (secret, ticket(5))), T0, settings)
    table = next(a.value for a in of(actions, FieldChange) if a.field == "description")
    assert table.rows == (("SD-3", "Software Defect", "(withheld: confidential personal data)"), ("SD-5", "Software Defect", "Problem 5"))
    assert all("Jane Doe" not in str(a) for a in actions)


@hypothesis_settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.sampled_from(["14.21.3.1", "14.21.3.2", "CUSTOM", None]),
                          st.sampled_from(["Delivery Pending", "In Progress"]), st.sampled_from([ACME, MUSTER])), max_size=12),
       st.sets(st.integers(1, 40), max_size=6))
def test_after_one_fill_the_links_are_exactly_the_included_tickets(settings, specs, already_linked):
    pending = tuple({n: ticket(n, v, s, o) for n, v, s, o in specs}.values())
    start = delivery(links=[link(n) for n in already_linked])
    view = DeliveryView(start, pending)
    actions = evaluate_delivery(view, T0, settings)
    links = {n for n in (f"SD-{x}" for x in already_linked)}
    for change in of(actions, IssueLinkChange):
        (links.add if change.add else links.discard)(change.other)
    assert links == {t.key for t in included(view, settings)}
    assert [r[0] for r in of(actions, FieldChange)[-1].value.rows] == [t.key for t in included(view, settings)]


def test_a_german_organisation_hears_of_the_new_date_in_german(settings):
    change = FieldHistory("estimated_delivery_date", "2026-06-01", "2026-06-15", T0)
    moved = delivery(organisation=MUSTER, date="2026-06-15", changes=[change])
    comment = [a for a in evaluate_delivery(DeliveryView(moved), T0 + timedelta(minutes=1), settings) if isinstance(a, PublicComment)]
    assert comment[0].language == "de" and "vom 1. Juni 2026 auf den 15. Juni 2026" in comment[0].body


def test_status_names_in_customer_texts_come_from_app_yaml(german_settings):
    """A German site names its statuses in German; the customer reads the name the portal shows."""
    reached = delivery(status="Ausgeliefert", links=[link(7)], organisation=MUSTER, since=T0)
    pending = replace(ticket(7, organisation=MUSTER), status="Auslieferung ausstehend")
    comments = [a for a in evaluate_delivery(DeliveryView(reached, (), (pending,)), T0, german_settings)
                if isinstance(a, PublicComment) and a.rule == "delivery.done"]
    assert len(comments) == 1 and "auf „Gelöst“ gesetzt" in comments[0].body


def test_english_templates_follow_english_letter_conventions(settings):
    from jsm_autopilot.config.texts import TEMPLATE_VARIABLES

    for name in TEMPLATE_VARIABLES:
        source = settings.texts.sources[("en", name)]
        if not source.startswith("Dear customer,"):
            continue
        first_line = source.split("\n\n", 1)[1]
        assert first_line[0].isupper() or first_line.startswith("{{"), f"en/{name}.txt: capital after 'Dear customer,'"
        assert source.rstrip().endswith("Kind regards,\nYour {{ desk }}"), f"en/{name}.txt: closing"


@pytest.mark.parametrize("value, valid", [
    ("14.21.3.1", True), (" 14.21.3.1 ", True), ("CUSTOM", True), (" CUSTOM ", True), ("custom", False), ("14.21", False),
    ("", False), (None, False), (142131, False),
])
def test_what_counts_as_a_delivery_version(settings, value, valid):
    from jsm_autopilot.rules.deliveries import valid_delivery_version

    assert valid_delivery_version(value, settings) is valid


def test_a_pending_ticket_without_a_version_gets_exactly_one_note_per_entry(settings):
    from jsm_autopilot.rules.deliveries import version_required

    reason = ("a ticket in Delivery Pending needs a Delivery version: a patch version such as 14.21.3.1, or CUSTOM for "
              "customer-specific changes (found {})")
    missing, wrong = ticket(5, version=None), ticket(5, version="14.21")
    assert version_required(missing, T0, settings) == [
        InternalComment("SD-5", "delivery.version_required", reason.format("nothing"),
                        body="jsm-autopilot · delivery.version_required: " + reason.format("nothing"))]
    assert version_required(wrong, T0, settings)[0].reason == reason.format("'14.21'")
    assert version_required(ticket(5), T0, settings) == []  # a valid version
    assert version_required(replace(missing, firings=(Firing("delivery.version_required", missing.status_since),)), T0, settings) == []
    for left_alone in (replace(missing, complete=False), replace(missing, status="In Progress"), replace(missing, status_since=None)):
        assert version_required(left_alone, T0, settings) == []


def test_a_date_change_is_news_for_the_window_and_not_a_second_longer(settings):
    """deliveries.window is 7d: a change exactly seven days old is history."""
    change = FieldHistory("estimated_delivery_date", "2026-06-01", "2026-06-15", T0)
    moved = delivery(date="2026-06-15", changes=[change])

    def announced(at):
        return [a.rule for a in evaluate_delivery(DeliveryView(moved), at, settings) if isinstance(a, PublicComment)]

    assert announced(T0 + timedelta(days=7) - timedelta(seconds=1)) == ["delivery.date_changed"]
    assert announced(T0 + timedelta(days=7)) == []
    assert [a for a in evaluate_delivery(DeliveryView(replace(moved, status="Delivered")), T0, settings)
            if a.rule == "delivery.date_changed"] == []


def test_a_date_field_that_holds_a_date_time_is_read_as_its_date(settings):
    change = FieldHistory("estimated_delivery_date", "2026-06-01T10:00:00.000+0200", "2026-06-15T10:00:00.000+0200", T0)
    moved = delivery(date="2026-06-15T10:00:00.000+0200", changes=[change])
    [comment] = [a for a in evaluate_delivery(DeliveryView(moved), T0, settings) if isinstance(a, PublicComment)]
    assert comment.reason == "estimated delivery date of 14.21.3.1 changed from 2026-06-01 to 2026-06-15"


def test_a_close_after_in_hours_is_told_in_whole_days():
    from jsm_autopilot.config.loader import settings_from_mapping
    from tests.conftest import ROOT, shipped_settings_data, without_hours_window

    data = without_hours_window(shipped_settings_data())
    data["timers"]["resolved"]["close_after"] = "36h"
    hourly = settings_from_mapping(data, base_directory=ROOT)
    reached = delivery(status="Delivered", links=[link(3)], since=T0)
    [done] = [a for a in evaluate_delivery(DeliveryView(reached, (), (ticket(3),)), T0, hourly)
              if isinstance(a, PublicComment) and a.rule == "delivery.done"]
    assert "closed automatically after two days" in done.body  # 1.5 days, rounded


def test_maintenance_needs_its_field_and_a_time_still_ahead(settings):
    ahead = maintained("2026-06-05T22:00:00.000+0200")
    assert [a.rule for a in evaluate_delivery(DeliveryView(ahead), T0, settings) if isinstance(a, PublicComment)] == ["delivery.maintenance"]
    no_field = settings.model_copy(update={"fields": settings.fields.model_copy(update={"maintenance_date": None})})
    assert [a for a in evaluate_delivery(DeliveryView(ahead), T0, no_field) if a.rule == "delivery.maintenance"] == []
    at = datetime.fromisoformat("2026-06-05T22:00:00+02:00")
    assert [a for a in evaluate_delivery(DeliveryView(ahead), at, settings) if a.rule == "delivery.maintenance"] == []
    assert [a.rule for a in evaluate_delivery(DeliveryView(ahead), at - timedelta(seconds=1), settings)
            if isinstance(a, PublicComment)] == ["delivery.maintenance"]


def test_a_maintenance_date_set_exactly_one_window_ago_is_history(settings):
    set_at = T0 - timedelta(days=7)
    old = maintained("2026-06-05T22:00:00.000+0200", changes=[FieldHistory("maintenance_date", None, "x", set_at)])
    assert [a for a in evaluate_delivery(DeliveryView(old), T0, settings) if a.rule == "delivery.maintenance"] == []
    assert [a.rule for a in evaluate_delivery(DeliveryView(old), T0 - timedelta(seconds=1), settings)
            if isinstance(a, PublicComment)] == ["delivery.maintenance"]


def test_a_view_is_a_value():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        DeliveryView(delivery()).pending = ()  # type: ignore[misc]
