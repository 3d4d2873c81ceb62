"""The console's rule switches (issue 31): a rule off or shadow only, kept in the store, in force
from the next sweep without a restart, every change recorded; a lost override never turns a rule
back on by silence."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from jsm_autopilot.cli.common import site_settings, with_rule_overrides
from jsm_autopilot.rules.actions import InternalComment, PublicComment
from jsm_autopilot.rules.catalogue import implemented_ids, switch_problems
from jsm_autopilot.rules.overrides import RuleOverride, kept_strict, override_problems, split_shadow, with_overrides
from jsm_autopilot.service.rule_switches import RuleSwitches
from jsm_autopilot.service.serve import Service
from jsm_autopilot.store.rule_overrides import RuleOverrides
from jsm_autopilot.store.shadow_firings import ShadowFirings
from tests.site import site_with_due_reminder

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
AT = datetime(2026, 12, 8, 9, 0, tzinfo=timezone.utc)
REMINDER = "clarification.reminder"


def test_an_override_turns_a_rule_off_on_or_shadow_only(settings):
    off = with_overrides(settings, [RuleOverride(REMINDER, enabled=False)], implemented_ids())
    assert not off.is_enabled(REMINDER) and settings.is_enabled(REMINDER)
    back = with_overrides(settings.with_rule_switches([r for r in implemented_ids() if r != REMINDER], []),
                          [RuleOverride(REMINDER, enabled=True)], implemented_ids())
    assert back.is_enabled(REMINDER)
    shadow = with_overrides(settings, [RuleOverride(REMINDER, shadow=True)], implemented_ids())
    assert shadow.is_shadow_only(REMINDER) and shadow.is_enabled(REMINDER) and not settings.is_shadow_only(REMINDER)
    # catalogue order, whatever order the overrides came in
    both = with_overrides(off, [RuleOverride("resolved.close", enabled=False), RuleOverride(REMINDER, enabled=True)], implemented_ids())
    assert both.rules.enabled == [r for r in implemented_ids() if settings.is_enabled(r) and r != "resolved.close"]


def test_app_yaml_shadow_list_can_be_undone_by_an_override(settings):
    from_file = settings.with_rule_switches(implemented_ids(), [REMINDER])
    assert not with_overrides(from_file, [RuleOverride(REMINDER, shadow=False)], implemented_ids()).is_shadow_only(REMINDER)


def test_overrides_keep_what_was_learned_beside_the_file(settings):
    marker = object()
    learned = settings.with_learned_triage(marker)  # type: ignore[arg-type]
    assert with_overrides(learned, [RuleOverride(REMINDER, enabled=False)], implemented_ids()).learned_triage is marker


def test_an_override_of_an_unknown_rule_is_named_and_not_applied(settings):
    overrides = [RuleOverride("gone.rule", enabled=False)]
    assert with_overrides(settings, overrides, implemented_ids()) is settings
    assert override_problems(overrides, implemented_ids()) == ["rule override for 'gone.rule' ignored: this version has no such rule"]


def test_rules_shadow_in_app_yaml_is_checked_against_the_catalogue():
    assert switch_problems(None, ["clarification.reminder", "nope.rule"]) == ["rules.shadow: unknown rule 'nope.rule'"]


def test_shadow_only_firings_are_split_from_those_written(settings):
    shadow = settings.with_rule_switches(implemented_ids(), [REMINDER])
    actions = [PublicComment("SD-1", REMINDER, "due", body="Hello", language="en", template="reminder"),
               InternalComment("SD-1", "resolved.close", "due", body="note")]
    live, kept = split_shadow(actions, shadow)
    assert [a.rule for a in live] == ["resolved.close"] and [a.rule for a in kept] == [REMINDER]
    assert split_shadow(actions, settings) == (actions, [])


def off(rule: str, at: datetime, by: str = "ann") -> RuleOverride:
    return RuleOverride(rule, enabled=False, changed_by=by, changed_at=at)


def test_a_row_the_change_log_still_has_is_kept_and_named():
    kept, lost = kept_strict({}, {REMINDER: off(REMINDER, AT)}, {})
    assert lost == [REMINDER] and kept[REMINDER].enabled is False


def test_a_replaced_store_keeps_what_this_process_saw():
    kept, lost = kept_strict({}, {}, {REMINDER: off(REMINDER, AT)})
    assert lost == [REMINDER] and kept[REMINDER].enabled is False


def test_a_reset_or_a_later_change_on_purpose_is_not_a_loss():
    reset = RuleOverride(REMINDER, changed_by="bob", changed_at=AT + timedelta(minutes=1))
    assert kept_strict({}, {REMINDER: reset}, {REMINDER: off(REMINDER, AT)}) == ({}, [])
    on = RuleOverride(REMINDER, enabled=True, changed_by="bob", changed_at=AT + timedelta(minutes=1))
    assert kept_strict({REMINDER: on}, {REMINDER: on}, {REMINDER: off(REMINDER, AT)}) == ({REMINDER: on}, [])
    # ... but a reset older than what this process saw does not explain its absence
    old_reset = RuleOverride(REMINDER, changed_by="bob", changed_at=AT - timedelta(minutes=1))
    assert kept_strict({}, {REMINDER: old_reset}, {REMINDER: off(REMINDER, AT)})[1] == [REMINDER]


def test_a_rule_turned_on_is_not_remembered_as_strict():
    on = RuleOverride(REMINDER, enabled=True, changed_by="ann", changed_at=AT)
    assert kept_strict({}, {}, {REMINDER: on}) == ({}, [])


def test_the_store_keeps_overrides_and_every_change(store):
    overrides = RuleOverrides(store)
    overrides.set(REMINDER, False, None, "ann@example.com", AT)
    overrides.set("resolved.close", None, True, "bob@example.com", AT + timedelta(minutes=1))
    overrides.set(REMINDER, None, None, "bob@example.com", AT + timedelta(minutes=2))
    assert list(overrides.current()) == ["resolved.close"]
    assert overrides.current()["resolved.close"].shadow is True
    history = overrides.history()
    assert [(c.rule, c.enabled, c.shadow, c.changed_by) for c in history] == [
        (REMINDER, None, None, "bob@example.com"), ("resolved.close", None, True, "bob@example.com"),
        (REMINDER, False, None, "ann@example.com")]
    assert history[0].changed_at == AT + timedelta(minutes=2)
    assert overrides.last_changes()[REMINDER].empty


def test_a_store_that_lost_a_row_says_so_and_keeps_the_rule_off(store, settings):
    from sqlalchemy import delete

    from jsm_autopilot.store.schema import rule_overrides

    RuleOverrides(store).set(REMINDER, False, None, "ann", AT)
    with store.engine.begin() as connection:
        connection.execute(delete(rule_overrides))
    switches = RuleSwitches(store)
    assert not switches.apply(settings).is_enabled(REMINDER)
    assert switches.lost == [REMINDER]
    assert "the store has lost the rule override of clarification.reminder" in switches.problems[0]


def test_a_replaced_store_does_not_turn_a_rule_back_on_in_a_running_service(tmp_path, settings):
    from jsm_autopilot.store.event_store import EventStore

    first = EventStore(f"sqlite:///{tmp_path}/first.db")
    first.migrate()
    RuleOverrides(first).set(REMINDER, False, None, "ann", AT)
    switches = RuleSwitches(first)
    assert not switches.apply(settings).is_enabled(REMINDER)
    switches.store = EventStore(f"sqlite:///{tmp_path}/second.db")  # restored from an old backup
    switches.store.migrate()
    assert not switches.apply(settings).is_enabled(REMINDER)
    assert switches.lost == [REMINDER]
    RuleOverrides(switches.store).set(REMINDER, None, None, "bob", AT + timedelta(hours=1))  # reset on purpose
    assert switches.apply(settings).is_enabled(REMINDER) and switches.lost == []


def service(site, store) -> Service:
    return Service(site.settings, store, site.client(), b"secret")


def test_a_rule_switched_off_is_skipped_by_the_next_sweep_without_a_restart(site_factory, store):
    site, key = site_with_due_reminder(site_factory, T0)
    running = service(site, store)
    RuleOverrides(store).set(REMINDER, False, None, "ann@example.com", datetime.now(timezone.utc))
    report = running.scheduled_sweep()
    assert report is not None and report.firings_applied == 0
    assert site.comments_by_bot(key) == []
    readiness = running.app.test_client().get("/readyz").get_json()
    assert readiness["overrides"][0].startswith("clarification.reminder: off (console, by ann@example.com at ")
    RuleOverrides(store).set(REMINDER, None, None, "ann@example.com", datetime.now(timezone.utc))
    assert running.scheduled_sweep().firings_applied == 1
    assert len(site.comments_by_bot(key, public=True)) == 1


def test_a_shadow_only_rule_is_kept_as_a_shadow_firing_and_not_written(site_factory, store):
    site, key = site_with_due_reminder(site_factory, T0)
    running = service(site, store)
    RuleOverrides(store).set(REMINDER, None, True, "ann", datetime.now(timezone.utc))
    assert running.scheduled_sweep().firings_applied == 0
    assert site.comments_by_bot(key) == []
    kept = ShadowFirings(store).list()
    assert [(f.issue, f.rule, f.source) for f in kept] == [(key, REMINDER, "sweep")]


def test_commands_with_a_store_use_the_overrides_and_list_them(store, tmp_path):
    settings = site_settings("app.yaml")
    RuleOverrides(store).set("resolved.close", False, None, "ann", AT)
    effective, described = with_rule_overrides(settings, store)
    assert not effective.is_enabled("resolved.close")
    assert described == ["resolved.close: off (console, by ann at 2026-12-08 09:00 UTC)"]
    assert with_rule_overrides(settings, None) == (settings, [])


def test_check_lists_the_overrides_in_force(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from jsm_autopilot.store.event_store import EventStore

    url = f"sqlite:///{tmp_path}/store.db"
    store = EventStore(url)
    store.migrate()
    RuleOverrides(store).set("resolved.close", None, True, "ann", AT)
    done = subprocess.run([str(Path(sys.executable).parent / "jsm-autopilot"), "check", "--config", "app.yaml"],
                          capture_output=True, text=True, env={**os.environ, "JSM_AUTOPILOT_DB": url}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Shadow only, kept and not written (1): resolved.close" in done.stdout
    assert "Console overrides of app.yaml (1): resolved.close: shadow only (console, by ann at 2026-12-08 09:00 UTC)" in done.stdout
    assert "Console off (console.enabled: false)" in done.stdout


def test_a_lost_shadow_only_override_is_kept_too_and_a_reset_at_the_same_instant_explains_it():
    shadow = RuleOverride(REMINDER, shadow=True, changed_by="ann", changed_at=AT)
    assert kept_strict({}, {}, {REMINDER: shadow}) == ({REMINDER: shadow}, [REMINDER])
    reset_then = RuleOverride(REMINDER, changed_by="bob", changed_at=AT)
    assert kept_strict({}, {REMINDER: reset_then}, {REMINDER: shadow}) == ({}, [])


def test_a_full_pass_owed_after_a_change_is_not_lost_when_the_sweep_fails(site_factory, store):
    site, key = site_with_due_reminder(site_factory, T0)
    running = service(site, store)
    assert running.scheduled_sweep().full  # the first: nothing scheduled yet
    assert not running.scheduled_sweep().full  # routine
    RuleOverrides(store).set("resolved.close", False, None, "ann", datetime.now(timezone.utc))
    site.faults(1.0, [503])
    running.client.budget_seconds = 0.5  # give up at once instead of retrying for minutes
    failed = running.scheduled_sweep()
    assert failed is None or failed.search_error is not None
    site.faults(0.0)
    running.health.answered()
    assert running.scheduled_sweep().full  # still owed
    assert not running.scheduled_sweep().full


def test_the_delivery_api_uses_the_rules_in_force(shop):
    from tests.delivery_site import ACME

    running = Service(shop.settings, shop.store, shop.site.client(), b"secret", api_token=b"token")
    api = running.app.test_client()
    body = {"organisation": ACME, "version": "14.21.3.1", "dry_run": True}

    def rules_planned() -> set[str]:
        answer = api.post("/api/deliveries", json=body, headers={"Authorization": "Bearer token"})
        assert answer.status_code == 200, answer.get_json()
        return {action["rule"] for action in answer.get_json()["actions"]}

    assert "delivery.create" in rules_planned()
    RuleOverrides(shop.store).set("delivery.create", False, None, "ann", datetime.now(timezone.utc))
    running.refresh_rule_switches()
    assert "delivery.create" not in rules_planned()
