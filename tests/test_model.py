"""The ticket snapshot: aware times only, a stable order, and the boundaries every rule leans on
(after: strictly later; since: at or later)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

import pytest

from jsm_autopilot.rules.model import Comment, FieldHistory, Firing, Link, Role, Ticket, require_aware

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)


def test_a_naive_time_or_not_a_time_is_refused_with_what_it_was():
    assert require_aware(T0, "now") is T0
    with pytest.raises(ValueError, match=r"now is a naive datetime \(2026-03-02T09:00:00\); give it a time zone"):
        require_aware(T0.replace(tzinfo=None), "now")
    with pytest.raises(TypeError, match="now must be a datetime, got str"):
        require_aware("2026-03-02", "now")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="SD-1 created"):
        Ticket("SD-1", "Incident", "Opened", T0, created=T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="comment 7 created"):
        Comment("7", "a", Role.AGENT, True, T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="firing resolved.close at"):
        Firing("resolved.close", T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="change of version at"):
        FieldHistory("version", None, "1.0", T0.replace(tzinfo=None))


def _comment(id_: str, at: datetime, role: Role = Role.CUSTOMER) -> Comment:
    return Comment(id_, "someone", role, True, at, f"comment {id_}")


def test_comments_firings_and_changes_come_oldest_first_and_ties_keep_a_stable_order():
    ticket = Ticket("SD-1", "Incident", "Opened", T0,
                    comments=(_comment("b", T0 + SECOND), _comment("c", T0), _comment("a", T0 + SECOND)),
                    firings=(Firing("x", T0 + SECOND), Firing("y", T0)),
                    field_changes=(FieldHistory("v", "1", "2", T0 + SECOND), FieldHistory("v", None, "1", T0)))
    assert [c.id for c in ticket.comments] == ["c", "a", "b"]
    assert [f.rule for f in ticket.firings] == ["y", "x"]
    assert [c.new for c in ticket.field_changes] == ["1", "2"]


def test_after_is_strictly_later_and_since_is_at_or_later():
    ticket = Ticket("SD-1", "Incident", "Opened", T0,
                    comments=(_comment("1", T0 - SECOND), _comment("2", T0), _comment("3", T0 + SECOND),
                              _comment("4", T0 + SECOND, Role.AGENT)),
                    firings=(Firing("r", T0 - SECOND), Firing("r", T0), Firing("r", T0 + SECOND), Firing("other", T0)),
                    field_changes=(FieldHistory("v", None, "1", T0), FieldHistory("v", "1", "2", T0 + SECOND),
                                   FieldHistory("w", None, "x", T0 + SECOND)))
    assert [c.id for c in ticket.comments_by(Role.CUSTOMER)] == ["1", "2", "3"]
    assert [c.id for c in ticket.comments_by(Role.CUSTOMER, after=T0)] == ["3"]
    assert [f.at for f in ticket.fired("r")] == [T0 - SECOND, T0, T0 + SECOND]
    assert [f.at for f in ticket.fired("r", after=T0)] == [T0 + SECOND]
    assert [f.at for f in ticket.fired("r", since=T0)] == [T0, T0 + SECOND]
    assert [f.at for f in ticket.fired("r", after=T0 - SECOND, since=T0 + SECOND)] == [T0 + SECOND]
    assert [c.new for c in ticket.changes_of("v")] == ["1", "2"]
    assert [c.new for c in ticket.changes_of("v", after=T0)] == ["2"]
    assert ticket.last_customer_comment().id == "3"
    assert ticket.last_customer_comment(after=T0 + SECOND) is None


def test_a_snapshot_cannot_be_changed_through_what_it_was_built_from():
    fields = {"urgency": "Critical"}
    participants = {"anna@example.com"}
    ticket = Ticket("SD-1", "Incident", "Opened", T0, custom_fields=fields, participants=participants)  # type: ignore[arg-type]
    fields["urgency"] = "Low"
    participants.add("eve@example.com")
    assert ticket.custom_fields["urgency"] == "Critical" and ticket.participants == frozenset({"anna@example.com"})
    with pytest.raises(TypeError):
        ticket.custom_fields["urgency"] = "Low"  # type: ignore[index]


class _NoOffset(tzinfo):
    """A tzinfo that cannot say its offset: as good as none."""

    def utcoffset(self, dt):
        return None


def test_a_time_whose_zone_has_no_offset_counts_as_naive():
    with pytest.raises(ValueError, match="naive"):
        require_aware(datetime(2026, 3, 2, 9, 0, tzinfo=_NoOffset()), "now")


@pytest.mark.parametrize("value, field", [
    (Comment("1", "a", Role.AGENT, True, T0), "body"),
    (Firing("r", T0), "at"),
    (Link("1", "SD-2", "Relates"), "other"),
    (FieldHistory("v", None, "1", T0), "new"),
    (Ticket("SD-1", "Incident", "Opened", T0), "status"),
])
def test_every_part_of_a_snapshot_is_frozen(value, field):
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, None)
