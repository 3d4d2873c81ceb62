"""sla.reaction and sla.resolution: working-time clocks against the contract's targets, a warning
to the team lead at sla.warn_at, the next escalation level when missed; each said once."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from jsm_autopilot.cli.main import main
from jsm_autopilot.config.loader import settings_from_mapping
from jsm_autopilot.connector.sweep import sweep_once
from jsm_autopilot.rules.actions import InternalComment
from jsm_autopilot.rules.catalogue import evaluate
from jsm_autopilot.rules.model import FieldHistory, Firing, Role, Ticket
from jsm_autopilot.rules.sla import REACTION, RESOLUTION, sla_clock
from tests.conftest import ROOT, settings_for_site, shipped_settings_data
from tests.tickets import comment

BERLIN = ZoneInfo("Europe/Berlin")
MELBOURNE = ZoneInfo("Australia/Melbourne")
SECOND = timedelta(seconds=1)
LEAD_DACH, LEAD_INTERNATIONAL, HEAD = "5b10ac8d82e05b22cc7d0001", "5b10ac8d82e05b22cc7d0002", "5b10ac8d82e05b22cc7d0003"
IN_REVIEW, WAITING = "In Review by Service Desk", "Clarification required / On hold"


@pytest.fixture(scope="module")
def shipped():
    """The shipped app.yaml: P2 reaction 4h and resolution 2d; Acme's contract says P2 reaction 2h."""
    return settings_from_mapping(shipped_settings_data(), base_directory=ROOT)


def defect(created: datetime, priority: str = "P2", organisation: str = "Muster AG", **changes) -> Ticket:
    ticket = Ticket(key="SD-7", type="Software Defect", status="Opened", status_since=created, created=created,
                    priority=priority, organisation=organisation, language="de", summary="Export bricht ab")
    return replace(ticket, **changes)


def sla_notes(actions, rule: str) -> list[InternalComment]:
    return [a for a in actions if a.rule == rule]


def test_reaction_warning_and_miss_at_the_right_instants(shipped):
    created = datetime(2026, 2, 2, 10, 0, tzinfo=BERLIN)  # Monday; P2: 4h, warning at 80% = 3h12m
    warn = datetime(2026, 2, 2, 13, 12, tzinfo=BERLIN)
    assert sla_notes(evaluate(defect(created), warn - SECOND, shipped), REACTION) == []
    [warning] = sla_notes(evaluate(defect(created), warn, shipped), REACTION)
    assert warning.stage == "warning" and warning.mentions == (LEAD_DACH,)
    assert "3h12m" in warning.reason and "sla.reaction" in warning.body and "team lead" in warning.reason
    missed = datetime(2026, 2, 2, 14, 0, tzinfo=BERLIN)
    warned = defect(created, firings=(Firing(REACTION, warn, stage="warning"),))
    assert sla_notes(evaluate(warned, missed - SECOND, shipped), REACTION) == []  # said once
    [escalated] = sla_notes(evaluate(warned, missed, shipped), REACTION)
    assert escalated.stage == "missed" and escalated.mentions == (HEAD,) and "head of the Support Team" in escalated.reason
    done = defect(created, firings=(Firing(REACTION, warn, stage="warning"), Firing(REACTION, missed, stage="missed")))
    assert sla_notes(evaluate(done, missed + timedelta(days=3), shipped), REACTION) == []


def test_a_target_passed_between_two_looks_tells_both_levels_at_once(shipped):
    created = datetime(2026, 2, 2, 10, 0, tzinfo=BERLIN)
    [note] = sla_notes(evaluate(defect(created), datetime(2026, 2, 3, 9, 0, tzinfo=BERLIN), shipped), REACTION)
    assert note.stage == "missed" and note.mentions == (LEAD_DACH, HEAD)


def test_what_was_missed_long_ago_is_no_news(shipped):
    """Installed on a site with late tickets: a miss more than sla.stale_after (1d = 9h of working
    time) ago gets no note; one just inside it does."""
    created = datetime(2026, 2, 2, 10, 0, tzinfo=BERLIN)  # missed at 14:00; 9h of working time later: Tuesday 14:00
    tuesday = datetime(2026, 2, 3, 14, 0, tzinfo=BERLIN)
    assert [n.stage for n in sla_notes(evaluate(defect(created), tuesday, shipped), REACTION)] == ["missed"]
    assert sla_notes(evaluate(defect(created), tuesday + SECOND, shipped), REACTION) == []
    # A warning long past, the miss still ahead: no warning (P4: 2d = 18h, warning Tuesday 15:24, missed Wednesday 10:00).
    data = shipped_settings_data()
    data["sla"]["stale_after"] = "1h"
    impatient = settings_from_mapping(data, base_directory=ROOT)
    p4 = defect(created, priority="P4")
    assert [n.stage for n in sla_notes(evaluate(p4, datetime(2026, 2, 3, 16, 24, tzinfo=BERLIN), impatient), REACTION)] == ["warning"]
    assert sla_notes(evaluate(p4, datetime(2026, 2, 3, 16, 25, tzinfo=BERLIN), impatient), REACTION) == []


def test_the_reaction_clock_pauses_outside_working_hours_and_over_the_weekend(shipped):
    friday = datetime(2026, 2, 6, 16, 0, tzinfo=BERLIN)  # 1h on Friday, 2h12m on Monday morning
    assert sla_notes(evaluate(defect(friday), datetime(2026, 2, 7, 23, 0, tzinfo=BERLIN), shipped), REACTION) == []
    monday_warn = datetime(2026, 2, 9, 10, 12, tzinfo=BERLIN)
    assert sla_notes(evaluate(defect(friday), monday_warn - SECOND, shipped), REACTION) == []
    assert [n.stage for n in sla_notes(evaluate(defect(friday), monday_warn, shipped), REACTION)] == ["warning"]


def test_an_organisations_own_target_and_team_in_melbourne(shipped):
    created = datetime(2026, 1, 27, 9, 0, tzinfo=MELBOURNE)  # Acme: P2 reaction 2h, warning after 1h36m
    ticket = defect(created, organisation="Acme Learning Ltd")
    warn = datetime(2026, 1, 27, 10, 36, tzinfo=MELBOURNE)
    assert sla_notes(evaluate(ticket, warn - SECOND, shipped), REACTION) == []
    [note] = sla_notes(evaluate(ticket, warn, shipped), REACTION)
    assert note.mentions == (LEAD_INTERNATIONAL,)
    # Its resolution target is inherited from sla.targets (2d = two working days of 9h).
    assert sla_clock(ticket, RESOLUTION, warn, shipped) is None  # not accepted yet
    accepted = replace(ticket, custom_fields={"accepted_at": "2026-01-27T09:30:00+11:00"})
    assert sla_clock(accepted, RESOLUTION, warn, shipped).target == timedelta(hours=18)


def test_daylight_saving_does_not_stretch_the_clock(shipped):
    """Berlin moves to summer time on Sunday 29 March 2026: Friday 16:00 + 1d (9h) of P3 reaction
    is missed on Monday at 16:00 CEST, which is 14:00 UTC, not 15:00."""
    friday = datetime(2026, 3, 27, 16, 0, tzinfo=BERLIN)
    clock = sla_clock(defect(friday, priority="P3"), REACTION, friday, shipped)
    assert clock.missed_at == datetime(2026, 3, 30, 16, 0, tzinfo=BERLIN)
    assert clock.missed_at.astimezone(ZoneInfo("UTC")).hour == 14
    assert clock.warn_at == datetime(2026, 3, 30, 14, 12, tzinfo=BERLIN)


def test_a_public_answer_stops_the_reaction_clock_and_an_internal_note_does_not(shipped):
    created = datetime(2026, 2, 2, 10, 0, tzinfo=BERLIN)
    warn = datetime(2026, 2, 2, 13, 12, tzinfo=BERLIN)
    answered = defect(created, comments=(comment(Role.AGENT, created + timedelta(hours=1)),))
    assert sla_notes(evaluate(answered, warn + timedelta(days=2), shipped), REACTION) == []
    noted = defect(created, comments=(comment(Role.AGENT, created + timedelta(hours=1), public=False),))
    assert len(sla_notes(evaluate(noted, warn, shipped), REACTION)) == 1
    by_customer = defect(created, comments=(comment(Role.CUSTOMER, created + timedelta(hours=1)),))
    assert len(sla_notes(evaluate(by_customer, warn, shipped), REACTION)) == 1


def accepted_defect(accepted: datetime, *changes: tuple[datetime, str, str], status: str = IN_REVIEW) -> Ticket:
    return defect(accepted - timedelta(minutes=30), status=status, status_since=changes[-1][0] if changes else accepted,
                  custom_fields={"accepted_at": accepted.isoformat()},
                  comments=(comment(Role.AGENT, accepted),),
                  field_changes=tuple(FieldHistory("status", old, new, at) for at, old, new in changes))


def test_the_resolution_clock_pauses_while_the_ticket_waits_for_the_customer(shipped):
    """P2 resolution 2d = 18h of working time; warning at 14h24m. Accepted Monday 09:00, waiting
    for the customer from Monday 12:00 to Wednesday 12:00: 3h before, so the warning comes on
    Thursday at 14:24 (without the pause it would have come on Tuesday at 15:24)."""
    accepted = datetime(2026, 2, 2, 9, 0, tzinfo=BERLIN)
    history = [(accepted, "Opened", IN_REVIEW), (datetime(2026, 2, 2, 12, 0, tzinfo=BERLIN), IN_REVIEW, WAITING)]
    waiting = accepted_defect(accepted, *history, status=WAITING)
    assert sla_notes(evaluate(waiting, datetime(2026, 2, 3, 15, 24, tzinfo=BERLIN), shipped), RESOLUTION) == []
    history.append((datetime(2026, 2, 4, 12, 0, tzinfo=BERLIN), WAITING, IN_REVIEW))
    back = accepted_defect(accepted, *history)
    warn = datetime(2026, 2, 5, 14, 24, tzinfo=BERLIN)
    assert sla_notes(evaluate(back, warn - SECOND, shipped), RESOLUTION) == []
    [note] = sla_notes(evaluate(back, warn, shipped), RESOLUTION)
    assert note.stage == "warning" and note.mentions == (LEAD_DACH,)
    never_waited = accepted_defect(accepted, history[0])
    assert [n.stage for n in sla_notes(evaluate(never_waited, datetime(2026, 2, 3, 15, 24, tzinfo=BERLIN), shipped), RESOLUTION)] == ["warning"]


def test_the_resolution_clock_pauses_while_a_fixed_ticket_waits_in_delivery_pending(shipped):
    """PROCESS.md, sla.resolution: the fix is done, the delivery follows the release plan. Accepted
    Monday 09:00, in Delivery Pending from Monday 12:00: the 14h24m warning never comes while it waits;
    a site that counts that time (sla.pause_in_delivery_pending: false) is warned on Tuesday 14:24."""
    accepted = datetime(2026, 2, 2, 9, 0, tzinfo=BERLIN)
    pending = accepted_defect(accepted, (accepted, "Opened", IN_REVIEW),
                              (datetime(2026, 2, 2, 12, 0, tzinfo=BERLIN), IN_REVIEW, "Delivery Pending"), status="Delivery Pending")
    assert sla_notes(evaluate(pending, datetime(2026, 2, 20, 10, 0, tzinfo=BERLIN), shipped), RESOLUTION) == []
    counting = shipped.model_copy(update={"sla": shipped.sla.model_copy(update={"pause_in_delivery_pending": False})})
    warn = datetime(2026, 2, 3, 14, 24, tzinfo=BERLIN)  # 8h on Monday, 6h24m on Tuesday from 08:00
    assert sla_notes(evaluate(pending, warn - SECOND, counting), RESOLUTION) == []
    assert [n.stage for n in sla_notes(evaluate(pending, warn, counting), RESOLUTION)] == ["warning"]


def test_what_has_no_clock(shipped):
    created = datetime(2026, 2, 2, 10, 0, tzinfo=BERLIN)
    late = created + timedelta(days=5)
    for ticket in (defect(created, type="Request"), defect(created, priority=None), defect(created, status="Resolved")):
        assert sla_notes(evaluate(ticket, late, shipped), REACTION) == []
    data = shipped_settings_data()
    data["sla"]["targets"].pop("p2")
    assert sla_notes(evaluate(defect(created), late, settings_from_mapping(data, base_directory=ROOT)), REACTION) == []


def test_sla_settings_are_checked_with_the_key_named():
    data = shipped_settings_data()
    data["sla"]["targets"]["p2"]["reaction"] = "1w"
    with pytest.raises(Exception, match=r"sla\.targets\.p2\.reaction.*weeks"):
        settings_from_mapping(data, base_directory=ROOT)
    data = shipped_settings_data()
    data["sla"]["warn_at"] = 1.5
    with pytest.raises(Exception, match=r"sla\.warn_at"):
        settings_from_mapping(data, base_directory=ROOT)


def test_plan_shows_the_sla_notes(tmp_path):
    import yaml

    from tests.example_issues import example_issues

    config = tmp_path / "app.yaml"
    config.write_text(yaml.safe_dump(shipped_settings_data(), allow_unicode=True), encoding="utf-8")
    issues = tmp_path / "issues.json"
    issues.write_text(json.dumps({"issues": example_issues()}), encoding="utf-8")
    at = "2026-11-20T09:00:00+01:00"  # Friday; SD-110's resolution warning fell due on Thursday at 14:54
    result = CliRunner().invoke(main, ["plan", "--issues", str(issues), "--at", at, "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    planned = [p for p in json.loads(result.stdout) if p["rule"] in (REACTION, RESOLUTION)]
    assert [(p["issue"], p["rule"], p["kind"], p["stage"], p["mentions"]) for p in planned] == [
        ("SD-110", RESOLUTION, "internal_comment", "warning", [LEAD_DACH])]
    table = CliRunner().invoke(main, ["plan", "--issues", str(issues), "--at", at, "--config", str(config)])
    assert "sla.resolution" in table.stdout


def test_through_sweeps_on_the_sandbox_the_lead_then_the_head_are_told_once_each(site_factory):
    monday = datetime(2026, 2, 2, 10, 0, tzinfo=BERLIN)
    site = site_factory(monday)
    site.settings = settings_for_site(settings_from_mapping(shipped_settings_data(), base_directory=ROOT))
    key = site.create(summary="Export bricht ab", priority={"name": "P2"})
    client = site.client()
    for at, expected in ((datetime(2026, 2, 2, 13, 11, tzinfo=BERLIN), 0), (datetime(2026, 2, 2, 13, 20, tzinfo=BERLIN), 1),
                         (datetime(2026, 2, 2, 13, 50, tzinfo=BERLIN), 0), (datetime(2026, 2, 2, 14, 5, tzinfo=BERLIN), 1),
                         (datetime(2026, 2, 3, 10, 0, tzinfo=BERLIN), 0)):
        site.set_clock(at)
        assert sweep_once(client, site.settings).by_rule.get(REACTION, 0) == expected, at
    notes = [c for c in site.comments_by_bot(key, public=False) if "sla.reaction" in json.dumps(c["body"])]
    mentioned = [[n["attrs"]["id"] for p in c["body"]["content"] for n in p.get("content", []) if n["type"] == "mention"]
                 for c in notes]
    assert mentioned == [[LEAD_DACH], [HEAD]]
    logged = site.issue(key)["properties"][site.settings.automation.property_key]["firings"]
    assert [f.get("stage") for f in logged if f["rule"] == REACTION] == ["warning", "missed"]


def test_the_next_sla_note_is_when_an_incremental_sweep_reads_the_ticket_again(shipped):
    from jsm_autopilot.rules.catalogue import next_due

    created = datetime(2026, 2, 6, 16, 0, tzinfo=BERLIN)  # Friday: the warning is due Monday 10:12
    assert next_due(defect(created), created + SECOND, shipped, []) == datetime(2026, 2, 9, 10, 12, tzinfo=BERLIN)
    warned = defect(created, firings=(Firing(REACTION, datetime(2026, 2, 9, 10, 12, tzinfo=BERLIN), stage="warning"),))
    assert next_due(warned, datetime(2026, 2, 9, 10, 13, tzinfo=BERLIN), shipped, []) == datetime(2026, 2, 9, 11, 0, tzinfo=BERLIN)


def test_the_warning_note_exactly(shipped):
    created = datetime(2026, 2, 2, 10, 0, tzinfo=BERLIN)
    [warning] = sla_notes(evaluate(defect(created), datetime(2026, 2, 2, 13, 12, tzinfo=BERLIN), shipped), REACTION)
    reason = ("80% of the target reached (missed at 2026-02-02 14:00 CET): reaction time of P2 is 4h00m of working time in "
              "region emea; 3h12m have run since 2026-02-02 10:00 CET; team lead is mentioned")
    assert warning == InternalComment("SD-7", REACTION, reason, body=f"jsm-autopilot · sla.reaction: {reason}",
                                      mentions=(LEAD_DACH,), stage="warning")


def test_the_resolution_note_says_resolution_and_a_chain_without_people_names_the_level(shipped):
    accepted = datetime(2026, 2, 2, 9, 0, tzinfo=BERLIN)
    ticket = accepted_defect(accepted, (accepted, "Opened", IN_REVIEW))
    data = shipped_settings_data()
    data["escalation"] = {**data["escalation"], "levels": []}
    nobody = settings_from_mapping(data, base_directory=ROOT)
    [note] = sla_notes(evaluate(ticket, datetime(2026, 2, 3, 15, 24, tzinfo=BERLIN), nobody), RESOLUTION)
    assert note.reason.startswith("80% of the target reached") and ": resolution time of P2 is 18h00m" in note.reason
    assert note.reason.endswith("; nobody is set for escalation level 1 of this region (escalation.levels)") and note.mentions == ()
    [missed] = sla_notes(evaluate(ticket, datetime(2026, 2, 4, 9, 0, tzinfo=BERLIN), nobody), RESOLUTION)
    assert missed.reason.endswith("; nobody is set for escalation level 2 of this region (escalation.levels)")


def test_an_incompletely_read_ticket_has_no_clock(shipped):
    created = datetime(2026, 2, 2, 10, 0, tzinfo=BERLIN)
    assert sla_clock(defect(created), REACTION, created + timedelta(hours=1), shipped) is not None
    assert sla_clock(defect(created, complete=False), REACTION, created + timedelta(hours=1), shipped) is None
    assert sla_clock(replace(defect(created), created=None), REACTION, created + timedelta(hours=1), shipped) is None


def test_an_answered_ticket_s_reaction_clock_stands_still_at_the_answer(shipped):
    created = datetime(2026, 2, 2, 10, 0, tzinfo=BERLIN)
    answered = defect(created, comments=(comment(Role.AGENT, created + timedelta(hours=1)),))
    clock = sla_clock(answered, REACTION, created + timedelta(hours=3), shipped)
    assert (clock.running, clock.elapsed, clock.warn_at, clock.missed_at) == (False, timedelta(hours=1), None, None)
    running = sla_clock(defect(created), REACTION, created + timedelta(hours=3), shipped)
    assert (running.running, running.elapsed) == (True, timedelta(hours=3))
    assert running.missed_at == created + timedelta(hours=4)


def test_an_accepted_at_that_is_no_date_falls_back_to_the_first_public_answer(shipped):
    accepted = datetime(2026, 2, 2, 9, 0, tzinfo=BERLIN)
    for unreadable in ("", "next Monday", 1770019200):
        ticket = replace(accepted_defect(accepted), custom_fields={"accepted_at": unreadable})
        assert sla_clock(ticket, RESOLUTION, accepted + timedelta(hours=1), shipped).started == accepted, unreadable


def test_the_status_timeline_from_creation():
    from jsm_autopilot.rules.sla import status_timeline

    created = datetime(2026, 2, 2, 9, 0, tzinfo=BERLIN)
    later = created + timedelta(hours=2)
    base = defect(created)
    assert status_timeline(base) == [(created, "Opened")]
    assert status_timeline(replace(base, status_since=None)) == [(created, "Opened")]
    # Without the changelog, the status before the current one is unknown.
    assert status_timeline(replace(base, status=IN_REVIEW, status_since=later)) == [(created, None), (later, IN_REVIEW)]
    assert status_timeline(replace(base, created=None, status_since=later)) == [(later, "Opened")]
    assert status_timeline(replace(base, created=None, status_since=None)) == []
    changed = replace(base, status=IN_REVIEW, status_since=later, field_changes=(FieldHistory("status", "Opened", IN_REVIEW, later),))
    assert status_timeline(changed) == [(created, "Opened"), (later, IN_REVIEW)]


def test_a_clock_is_a_value(shipped):
    import dataclasses

    created = datetime(2026, 2, 2, 10, 0, tzinfo=BERLIN)
    clock = sla_clock(defect(created), REACTION, created, shipped)
    with pytest.raises(dataclasses.FrozenInstanceError):
        clock.running = False  # type: ignore[misc]
