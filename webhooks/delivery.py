"""A Jira webhook delivery, verified and parsed without any I/O.

Jira signs admin webhooks that have a secret with `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the
raw body>` (JIRA-CONTRACT.md 3.1); re-deliveries carry the same `X-Atlassian-Webhook-Identifier`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Mapping

from werkzeug.datastructures import EnvironHeaders, Headers

from jsm_autopilot.errors import DeliveryRejected

SIGNATURE_HEADER = "X-Hub-Signature"
IDENTIFIER_HEADER = "X-Atlassian-Webhook-Identifier"
RETRY_HEADER = "X-Atlassian-Webhook-Retry"

# Events that can make a rule due. Others are acknowledged and recorded as ignored: Jira adds
# event types, and refusing one only makes Jira retry it.
HANDLED_EVENTS = frozenset({"jira:issue_created", "jira:issue_updated", "comment_created", "comment_updated"})
# A signed body without `webhookEvent` that carries an issue (a workflow post-function's delivery):
# "this issue changed", like an update; the worker reads the ticket anyway.
ISSUE_WITHOUT_EVENT = "issue_without_event"
UNKNOWN_EVENT = "unknown"
# Jira's issue keys: project key (a letter, then letters, digits, _), a dash, a number. Nothing
# else may reach a URL path (`SD-1/../SD-5` must not).
ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}-[1-9][0-9]{0,14}$")
EVENT_NAME = re.compile(r"^[A-Za-z0-9_:.\-]{1,100}$")
# Data Center's comment_* events carry no `issue`: only the comment, whose `self` names the issue
# by its id (mattermost-plugin-jira's recorded Server payloads and PR #118). The worker reads the
# issue by that id and finds its key and project there.
COMMENT_SELF = re.compile(r"/rest/api/(?:2|latest)/issue/([1-9][0-9]{0,17})/comment/[0-9]+$")
PRINTABLE = re.compile(r"[^\x21-\x7e]")


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
    # Werkzeug's headers answer any spelling at once; a plain mapping is searched (for an absent
    # header, searching Werkzeug's would cost a fifth of verifying and parsing the delivery).
    found = headers.get(name)
    if found is not None or isinstance(headers, (Headers, EnvironHeaders)):
        return found
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


# Every header a delivery is read from (delivery_from_http reads no other), with its WSGI name.
DELIVERY_HEADERS = tuple((name, "HTTP_" + name.upper().replace("-", "_")) for name in (SIGNATURE_HEADER, IDENTIFIER_HEADER, RETRY_HEADER))


def delivery_headers(environ: Mapping[str, str]) -> dict[str, str]:
    """The delivery's headers from a WSGI environ: a third cheaper to check than through
    Werkzeug's EnvironHeaders, which spells each name out anew on every lookup."""
    return {name: environ[key] for name, key in DELIVERY_HEADERS if key in environ}


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


def loggable(value: str | None, limit: int = 80) -> str:
    """A header value as it may appear in a log line: printable ASCII, cut short."""
    if value is None:
        return "-"
    cleaned = PRINTABLE.sub("?", value[:limit])
    return cleaned + ("…" if len(value) > limit else "")


def _parse(body: bytes) -> object:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise DeliveryRejected(400, "body is not JSON") from None
    except RecursionError:
        raise DeliveryRejected(400, "body is nested too deeply") from None


def delivery_from_http(headers: Mapping[str, str], body: bytes, secret: bytes | None, project_key: str) -> Delivery:
    """Verify, then parse. The signature is checked on the raw bytes before any JSON parsing.
    What is kept besides the raw body (event name, issue key, identifier) is checked against
    strict patterns, so that every store can hold it and no URL is built from anything else."""
    verify_signature(headers, body, secret)
    payload = _parse(body)
    if not isinstance(payload, dict):
        raise DeliveryRejected(400, "body is not a JSON object")
    issue = payload.get("issue") if isinstance(payload.get("issue"), dict) else None
    event = payload.get("webhookEvent")
    if event is None:
        event = ISSUE_WITHOUT_EVENT if issue is not None else UNKNOWN_EVENT
    if not isinstance(event, str) or not EVENT_NAME.fullmatch(event):
        raise DeliveryRejected(400, "webhookEvent is not an event name")
    key = (issue or {}).get("key")
    if key is not None and (not isinstance(key, str) or not ISSUE_KEY.fullmatch(key)):
        raise DeliveryRejected(400, "issue.key is not a Jira issue key")
    # Without Jira's identifier (some Data Center setups), identical bytes are the same delivery.
    identifier = _header(headers, IDENTIFIER_HEADER) or "sha256:" + hashlib.sha256(body).hexdigest()
    if PRINTABLE.search(identifier) or len(identifier) > 200:
        raise DeliveryRejected(400, "X-Atlassian-Webhook-Identifier is not an identifier")
    try:
        retry = int(_header(headers, RETRY_HEADER) or 0)
    except ValueError:
        retry = 0
    in_project = key is not None and key.startswith(project_key.upper() + "-")
    if issue is None and event.startswith("comment_"):
        key = issue_id_of_comment(payload.get("comment"))
        in_project = key is not None  # which project it is in, only Jira can say: the worker asks
    handled = (event in HANDLED_EVENTS or event == ISSUE_WITHOUT_EVENT) and in_project
    return Delivery(identifier, event, key, body, min(max(retry, 0), 1000), handled)


def issue_id_of_comment(comment: object) -> str | None:
    """The issue id in a comment's `self` address, as Data Center's comment events give it."""
    address = comment.get("self") if isinstance(comment, dict) else None
    found = COMMENT_SELF.search(address) if isinstance(address, str) else None
    return found.group(1) if found else None


def is_issue_id(issue: str) -> bool:
    """An event stored under the issue's id (Data Center's comment events) rather than its key."""
    return issue.isdigit()
