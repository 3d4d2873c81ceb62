"""A Jira webhook delivery, verified and parsed without any I/O.

Jira signs admin webhooks that have a secret with `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the
raw body>` (JIRA-CONTRACT.md 3.1); re-deliveries carry the same `X-Atlassian-Webhook-Identifier`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Mapping

SIGNATURE_HEADER = "X-Hub-Signature"
IDENTIFIER_HEADER = "X-Atlassian-Webhook-Identifier"
RETRY_HEADER = "X-Atlassian-Webhook-Retry"

# Events that can make a rule due. Others are acknowledged and recorded as ignored: Jira adds
# event types, and refusing one only makes Jira retry it.
HANDLED_EVENTS = frozenset({"jira:issue_created", "jira:issue_updated", "comment_created", "comment_updated"})


class DeliveryRejected(Exception):
    """The delivery is refused with `status`; `reason` is short and safe to send back."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Delivery:
    identifier: str
    event: str
    issue: str | None
    body: bytes
    retry: int
    handled: bool


# The method is the signature's prefix (`sha256=<hex>`, as GitHub-style X-Hub-Signature headers
# name it). Jira Cloud and Data Center 10 send sha256; an older or future method is refused by name
# rather than compared as if it were sha256.
SIGNATURE_METHODS = {"sha256": hashlib.sha256}


def signature_for(body: bytes, secret: bytes, method: str = "sha256") -> str:
    return f"{method}=" + hmac.new(secret, body, SIGNATURE_METHODS[method]).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def verify_signature(headers: Mapping[str, str], body: bytes, secret: bytes | None) -> None:
    """Raise 401 unless the body carries a valid signature; `secret=None` means unsigned allowed."""
    if secret is None:
        return
    given = _header(headers, SIGNATURE_HEADER)
    if not given:
        raise DeliveryRejected(401, "missing X-Hub-Signature")
    method, separator, _ = given.strip().partition("=")
    if not separator:
        raise DeliveryRejected(401, "X-Hub-Signature names no method (expected sha256=<hex>)")
    if method.lower() not in SIGNATURE_METHODS:
        raise DeliveryRejected(401, f"unsupported signature method {method[:20]!r} (supported: {', '.join(SIGNATURE_METHODS)})")
    expected = signature_for(body, secret, method.lower())
    if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
        raise DeliveryRejected(401, "bad signature")


def delivery_from_http(headers: Mapping[str, str], body: bytes, secret: bytes | None, project_key: str) -> Delivery:
    """Verify, then parse. The signature is checked on the raw bytes before any JSON parsing."""
    verify_signature(headers, body, secret)
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise DeliveryRejected(400, "body is not JSON") from None
    if not isinstance(payload, dict):
        raise DeliveryRejected(400, "body is not a JSON object")
    event = payload.get("webhookEvent")
    if not isinstance(event, str) or not event:
        raise DeliveryRejected(400, "webhookEvent is missing")
    issue = payload.get("issue") if isinstance(payload.get("issue"), dict) else {}
    key = issue.get("key") if isinstance(issue.get("key"), str) else None
    # Without Jira's identifier (some Data Center setups), identical bytes are the same delivery.
    identifier = _header(headers, IDENTIFIER_HEADER) or "sha256:" + hashlib.sha256(body).hexdigest()
    try:
        retry = int(_header(headers, RETRY_HEADER) or 0)
    except ValueError:
        retry = 0
    in_project = key is not None and key.upper().startswith(project_key.upper() + "-")
    return Delivery(identifier[:200], event[:100], key, body, retry, event in HANDLED_EVENTS and in_project)
