"""Logs as one JSON object per line, carrying the ticket key, rule id and event identifier where
known; known secrets are masked should one ever reach a message. Customer text is never passed
to a log call in the first place (rules and executor log ids and Jira's error answers only)."""

from __future__ import annotations

import logging
import os
import sys

from pythonjsonlogger.json import JsonFormatter

SECRET_VARIABLES = ("JIRA_API_TOKEN", "JIRA_PAT", "JSM_AUTOPILOT_WEBHOOK_SECRET", "JSM_AUTOPILOT_SMTP_PASSWORD",
                    "JSM_AUTOPILOT_NOTIFY_WEBHOOK_URL")


class MaskSecrets(logging.Filter):
    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


def configure_json_logging(level: int = logging.INFO, stream=None, environ=os.environ) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter("{asctime}{levelname}{name}{message}", style="{",
                                       rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}))
    handler.addFilter(MaskSecrets([environ.get(name, "") for name in SECRET_VARIABLES]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # waitress and urllib3 speak at INFO about every connection; keep their warnings only.
    for noisy in ("waitress", "urllib3", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
