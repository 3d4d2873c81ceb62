"""The on-call service's end of `oncall.alert`: an HTTP POST of a small JSON document to the URL
in `JSM_AUTOPILOT_ONCALL_URL`, retried as Jira calls are (429 with Retry-After, 5xx, a lost
connection), with a key that stays the same for every attempt of one ticket (`Idempotency-Key`),
so that a receiver that dedupes gets one alert per ticket even across a crash and a resend."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Callable

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from connector.client import JiraError
from rules.actions import OnCallAlert

log = logging.getLogger("jsm_autopilot.oncall")
ONCALL_URL_ENVIRONMENT_VARIABLE = "JSM_AUTOPILOT_ONCALL_URL"
RETRY = frozenset({408, 429}) | frozenset(range(500, 600))


class AlertFailed(JiraError):
    """The on-call service did not take the alert (after retries), or none is configured."""


class _Retryable(Exception):
    def __init__(self, status: int | None, answer: str, retry_after: float):
        super().__init__(answer)
        self.status, self.answer, self.retry_after = status, answer, retry_after


@dataclass
class OnCallSender:
    url: str
    timeout: float = 10
    attempts: int = 5
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_environment(cls, environ=os.environ) -> "OnCallSender | None":
        url = (environ.get(ONCALL_URL_ENVIRONMENT_VARIABLE) or "").strip()
        return cls(url) if url else None

    def send(self, alert: OnCallAlert, link: str) -> None:
        """POST the alert; raise `AlertFailed` when the receiver refuses it or stays unreachable."""
        document = {"rule": alert.rule, "issue": alert.issue, "summary": alert.summary, "priority": alert.priority,
                    "region": alert.region, "link": link, "dedupe_key": alert.dedupe_key}

        def attempt() -> None:
            try:
                answer = requests.post(self.url, json=document, timeout=self.timeout, headers={"Idempotency-Key": alert.dedupe_key})
            except (requests.ConnectionError, requests.Timeout) as error:
                raise _Retryable(None, f"{type(error).__name__}: {error}", 0.0) from None
            if answer.status_code in RETRY:
                retry_after = float(answer.headers.get("Retry-After", "0") or 0) if answer.headers.get("Retry-After", "").isdigit() else 0.0
                raise _Retryable(answer.status_code, answer.text[:200], retry_after)
            if answer.status_code >= 400:
                raise AlertFailed("POST", self.url, answer.status_code, answer.text[:200] or answer.reason)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return max(getattr(error, "retry_after", 0.0), min(30.0, 0.5 * 2 ** (state.attempt_number - 1)))

        retrying = Retrying(retry=retry_if_exception(lambda e: isinstance(e, _Retryable)), wait=wait,
                            stop=stop_after_attempt(self.attempts), sleep=self.sleep, reraise=True)
        try:
            retrying(attempt)
        except _Retryable as failed:
            raise AlertFailed("POST", self.url, failed.status, failed.answer) from None
        log.info("%s: on-call alerted", alert.issue, extra={"issue": alert.issue, "rule": alert.rule})
