"""Who may do what in the console: from the Jira groups a user is in, read at sign-in."""

from __future__ import annotations

from typing import Iterable

ADMIN = "admin"
RELEASE_MANAGER = "release_manager"


def roles_of(groups: Iterable[str], admins: Iterable[str], release_managers: Iterable[str]) -> frozenset[str]:
    """The user's roles. Jira compares group names without regard to case, so do we. An admin
    may also do what a release manager does."""
    mine = {group.casefold() for group in groups}
    roles = set()
    if mine & {group.casefold() for group in admins}:
        roles |= {ADMIN, RELEASE_MANAGER}
    if mine & {group.casefold() for group in release_managers}:
        roles.add(RELEASE_MANAGER)
    return frozenset(roles)


def group_names(myself: dict) -> list[str]:
    """The group names of a `GET /myself?expand=groups` answer (Cloud and Data Center alike)."""
    groups = myself.get("groups") if isinstance(myself, dict) else None
    items = groups.get("items") if isinstance(groups, dict) else None
    return [str(item["name"]) for item in items or [] if isinstance(item, dict) and item.get("name")]
