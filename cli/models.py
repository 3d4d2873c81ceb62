"""The models the commands read replies and new tickets with: learned at first use from the shipped
corpora (kept in the state directory), or what `triage learn` stored from the site's history."""

from __future__ import annotations

import click

LEARNED_TRIAGE = "triage"


def with_learned_triage(settings, store=None):
    """The settings with the models learned at first use and kept in the state directory: the
    triage model to suggest from (what `triage learn` stored from the site's own history when a
    store holds it, else, with triage.default_model, the one of the shipped corpus) and what
    confirmations read like (confirmation.learned). Never creates a store."""
    if settings.confirmation.learned:
        settings = settings.with_reply_model(shipped_reply_model())
    site = _site_triage(store)
    if site is not None:
        return settings.with_learned_triage(site)
    if settings.triage.default_model:
        return settings.with_learned_triage(shipped_triage())
    return settings


def shipped_reply_model():
    """What confirmations read like, learned from the shipped labelled replies once a process."""
    from jsm_autopilot.config.triage_model import default_reply_model
    from jsm_autopilot.connector.replies import written_now
    from jsm_autopilot.store.event_store import default_database_path

    cache = ("replies", default_database_path().parent)
    if cache not in _SHIPPED:
        _SHIPPED[cache] = default_reply_model(cache[1], written_now)
    return _SHIPPED[cache]


_SHIPPED: dict = {}


def shipped_triage():
    """The model of the shipped corpus, learned once a process (and once a state directory)."""
    from jsm_autopilot.config.triage_model import default_triage
    from jsm_autopilot.store.event_store import default_database_path

    cache = default_database_path().parent
    if cache not in _SHIPPED:
        _SHIPPED[cache] = default_triage(cache)
    return _SHIPPED[cache]


def _site_triage(store):
    from jsm_autopilot.config.triage_model import LearnedTriage
    from jsm_autopilot.errors import StoreUnavailable
    from jsm_autopilot.store.event_store import EventStore, database_url

    opened = None
    try:
        if store is None:
            store = opened = EventStore(database_url(), create=False)
        found = store.learned(LEARNED_TRIAGE)
    except StoreUnavailable:
        return None  # no store yet, one this account cannot read, or one from before `triage learn` existed
    finally:
        if opened is not None:
            opened.dispose()
    if found is None:
        return None
    try:
        return LearnedTriage.from_json(found[0])
    except (ValueError, KeyError) as error:
        click.echo(f"warning: the learned triage in the store cannot be read ({error}); using the shipped model or the keywords",
                   err=True)
        return None
