"""The on-call service's end of `oncall.alert`, on one or both of two channels:
- an HTTP POST of a small JSON document to the URL in `JSM_AUTOPILOT_ONCALL_URL`, with a key that
  stays the same for every attempt of one ticket (`Idempotency-Key`);
- Jira Service Management's own operations alerts, through an API integration's key in
  `JSM_AUTOPILOT_JSM_OPS_API_KEY`: `POST {oncall.jsm_ops_url}` with `Authorization: GenieKey <key>`
  (Atlassian's integration events API, the successor of Opsgenie's alert API). The same key goes
  in as the alert's `alias`, which JSM uses to de-duplicate open alerts.
Both are retried as Jira calls are (429 with Retry-After, 5xx, a lost connection)."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Callable

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from jsm_autopilot.errors import AlertFailed
from jsm_autopilot.rules.actions import OnCallAlert

log = logging.getLogger("jsm_autopilot.oncall")
ONCALL_URL_ENVIRONMENT_VARIABLE = "JSM_AUTOPILOT_ONCALL_URL"
JSM_OPS_KEY_ENVIRONMENT_VARIABLE = "JSM_AUTOPILOT_JSM_OPS_API_KEY"
JSM_OPS_URL = "https://api.atlassian.com/jsm/ops/integration/v2/alerts"
MESSAGE_LIMIT = 130  # JSM operations: "Message of the alert", limited to 130 characters
RETRY = frozenset({408, 429}) | frozenset(range(500, 600))


def environment_gaps(settings, environ=os.environ) -> list[str]:
    """What app.yaml turns on that the environment does not give (`check` and `serve` say it):
    an enabled rule that would fail at the first serious incident, a notification never sent."""
    from jsm_autopilot.config.notify import notify_gaps

    gaps = []
    if settings.is_enabled("oncall.alert") and OnCallSender.from_environment(environ) is None:
        gaps.append(f"oncall.alert is on but neither {ONCALL_URL_ENVIRONMENT_VARIABLE} nor {JSM_OPS_KEY_ENVIRONMENT_VARIABLE} is "
                    "set: a serious incident out of hours pages nobody (its firing fails)")
    return gaps + notify_gaps(settings.notify, environ)


class _Retryable(Exception):
    def __init__(self, status: int | None, answer: str, retry_after: float):
        super().__init__(answer)
        self.status, self.answer, self.retry_after = status, answer, retry_after


@dataclass
class OnCallSender:
    url: str | None = None
    jsm_ops_key: str | None = None
    jsm_ops_url: str = JSM_OPS_URL
    timeout: float = 10
    attempts: int = 5
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_environment(cls, environ=os.environ, jsm_ops_url: str = JSM_OPS_URL) -> "OnCallSender | None":
        url = (environ.get(ONCALL_URL_ENVIRONMENT_VARIABLE) or "").strip() or None
        key = (environ.get(JSM_OPS_KEY_ENVIRONMENT_VARIABLE) or "").strip() or None
        return cls(url, key, jsm_ops_url) if url or key else None

    @property
    def channels(self) -> list[str]:
        return [name for name, on in (("webhook", self.url), ("jsm-ops", self.jsm_ops_key)) if on]

    def send(self, alert: OnCallAlert, link: str) -> None:
        """Alert on every configured channel; raise `AlertFailed` when one refuses or stays
        unreachable (a resend repeats the same keys, so a channel that took it dedupes it)."""
        if self.url:
            document = {"rule": alert.rule, "issue": alert.issue, "summary": alert.summary, "priority": alert.priority,
                        "region": alert.region, "link": link, "dedupe_key": alert.dedupe_key}
            self._post(self.url, document, {"Idempotency-Key": alert.dedupe_key})
        if self.jsm_ops_key:
            self._post(self.jsm_ops_url, jsm_ops_alert(alert, link), {"Authorization": f"GenieKey {self.jsm_ops_key}"})
        log.info("%s: on-call alerted (%s)", alert.issue, ", ".join(self.channels), extra={"issue": alert.issue, "rule": alert.rule})

    def _post(self, url: str, document: dict, headers: dict[str, str]) -> None:
        def attempt() -> None:
            try:
                answer = requests.post(url, json=document, timeout=self.timeout, headers=headers)
            except (requests.ConnectionError, requests.Timeout) as error:
                raise _Retryable(None, f"{type(error).__name__}: {error}", 0.0) from None
            if answer.status_code in RETRY:
                retry_after = float(answer.headers.get("Retry-After", "0") or 0) if answer.headers.get("Retry-After", "").isdigit() else 0.0
                raise _Retryable(answer.status_code, answer.text[:200], retry_after)
            if answer.status_code >= 400:
                raise AlertFailed("POST", url, answer.status_code, answer.text[:200] or answer.reason)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return max(getattr(error, "retry_after", 0.0), min(30.0, 0.5 * 2 ** (state.attempt_number - 1)))

        retrying = Retrying(retry=retry_if_exception(lambda e: isinstance(e, _Retryable)), wait=wait,
                            stop=stop_after_attempt(self.attempts), sleep=self.sleep, reraise=True)
        try:
            retrying(attempt)
        except _Retryable as failed:
            raise AlertFailed("POST", url, failed.status, failed.answer) from None


def jsm_ops_alert(alert: OnCallAlert, link: str) -> dict:
    """The alert as JSM operations takes it: `message` (at most 130 characters), `alias` for
    de-duplication, and details an on-call engineer reads on their phone."""
    message = f"{alert.issue}: {alert.summary}"
    if len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT - 1] + "…"
    # Only the body fields Atlassian documents for this resource; the rank is the alert's priority
    # (a P1 or P2 ticket pages as P1 or P2, not as the default P3).
    return {"message": message, "alias": alert.dedupe_key, "source": "jsm-autopilot", "priority": alert.level,
            "entity": alert.issue, "tags": ["jsm-autopilot", alert.region, alert.level], "description": f"{alert.reason}\n{link}",
            "details": {"issue": alert.issue, "link": link, "region": alert.region, "rule": alert.rule, "priority": alert.priority or ""}}
