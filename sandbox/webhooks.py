"""The sandbox sends webhooks like a Jira admin webhook with a secret: Jira-shaped payloads (v2
representation, as in the real captures), signed with `X-Hub-Signature`, each with its own
`X-Atlassian-Webhook-Identifier`, retried on 408/409/425/429/5xx or a failed connection."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field

import requests

RETRIED = {408, 409, 425, 429} | set(range(500, 600))


@dataclass
class WebhookSender:
    url: str | None = None
    secret: bytes | None = None
    attempts: int = 5
    sent: int = 0
    failed: int = 0
    _queue: deque = field(default_factory=deque)
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _thread: threading.Thread | None = None
    _session: requests.Session = field(default_factory=requests.Session)

    def configure(self, url: str | None, secret: bytes | None) -> None:
        self.url, self.secret = url, secret
        if url and self._thread is None:
            self._thread = threading.Thread(target=self._send_forever, name="sandbox-webhooks", daemon=True)
            self._thread.start()

    def emit(self, payload: dict) -> None:
        if not self.url:
            return
        with self._wake:
            self._queue.append(json.dumps(payload).encode())
            self._wake.notify()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _send_forever(self) -> None:
        while True:
            with self._wake:
                while not self._queue:
                    self._wake.wait()
                body = self._queue.popleft()
            self._deliver(body)

    def _deliver(self, body: bytes) -> None:
        headers = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
                   "X-Atlassian-Webhook-Flow": "Primary"}
        if self.secret:
            headers["X-Hub-Signature"] = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        pause = threading.Event()
        for attempt in range(self.attempts):
            if attempt:
                headers["X-Atlassian-Webhook-Retry"] = str(attempt)
                pause.wait(min(0.2 * 2 ** attempt, 5))
            try:
                status = self._session.post(self.url, data=body, headers=headers, timeout=10).status_code
            except requests.RequestException:
                continue
            if status not in RETRIED:
                self.sent += 1
                return
        self.failed += 1
