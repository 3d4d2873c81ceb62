"""Delivery rules (guide 3.1, 3.5, 3.7). So far: `delivery.version_required`."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from rules.actions import Action, audit_note
from rules.model import Ticket, require_aware

if TYPE_CHECKING:
    from config.settings import Settings

VERSION_REQUIRED = "delivery.version_required"


def valid_delivery_version(value: object, settings: "Settings") -> bool:
    text = str(value).strip() if value is not None else ""
    return text == settings.deliveries.custom_marker or re.fullmatch(settings.deliveries.version_pattern, text) is not None


def version_required(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`delivery.version_required`: a ticket in Delivery Pending must say which delivery brings it;
    agents get one note each time it enters the status without a valid version."""
    require_aware(now, "now")
    if not ticket.complete or ticket.status != settings.statuses.delivery_pending or ticket.status_since is None:
        return []
    version = ticket.custom_fields.get("delivery_version")
    if valid_delivery_version(version, settings) or ticket.fired(VERSION_REQUIRED, since=ticket.status_since):
        return []
    found = f"{version!r}" if version not in (None, "") else "nothing"
    reason = (f"a ticket in {settings.statuses.delivery_pending} needs a Delivery version: a patch version such as "
              f"14.21.3.1, or {settings.deliveries.custom_marker} for customer-specific changes (found {found})")
    return [audit_note(ticket.key, VERSION_REQUIRED, reason)]
