"""A faithful JSM sandbox: a Flask server answering the Jira REST subset jsm-autopilot uses,
with a controllable clock, seedable tickets, fault injection and a log of requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.sandbox.admin_api import FIELD_KINDS
from jsm_autopilot.sandbox.app import create_app
from jsm_autopilot.sandbox.state import SandboxState, account_id_for
from jsm_autopilot.sandbox.workflow import Workflow

__all__ = ["RunningSandbox", "SandboxState", "account_id_for", "new_state", "start_sandbox"]


def new_state(settings: Settings, deployment: str | None = None, now: datetime | None = None, fault_seed: int = 0) -> SandboxState:
    state = SandboxState(
        Workflow(settings), settings.project.key, deployment or settings.project.deployment, now,
        fault_seed=fault_seed, organizations_field=settings.fields.organizations,
    )
    state.settings = settings  # the site's own configuration: its statuses, priorities, fields
    # Date and date-time fields take only Jira's own formats (sandbox/values.py moment_refused).
    state.field_types = {field_id: FIELD_KINDS[role][1]["type"] for role, field_id in settings.fields.model_dump().items()
                         if field_id and field_id.startswith("customfield_")}
    state.security_levels = {r.security_level: f"Support {name}" for name, r in settings.regions.items() if r.security_level}
    types = settings.issue_types
    # The portal's request types: what customers raise, and the one Delivery tickets are made of.
    state.request_types = {"1": {"name": "Report a problem", "issue_type": types.incident},
                           "2": {"name": "Get help", "issue_type": types.request},
                           "3": {"name": settings.deliveries.request_type, "issue_type": types.delivery}}
    product_management = settings.reclassification.product_management
    if product_management is not None:
        state.other_projects.add(product_management.project)
    return state


class _QuietHandler(WSGIRequestHandler):
    # The sandbox keeps its own request log (GET /_sandbox/requests); no line per request on stderr.
    def log_request(self, code="-", size="-") -> None:
        pass


@dataclass
class RunningSandbox:
    state: SandboxState
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
        self.server.server_close()  # connections are refused from now on, as from a stopped Jira


def start_sandbox(state: SandboxState, port: int = 0, wrap=None) -> RunningSandbox:
    """Serve the sandbox on 127.0.0.1 in a background thread (port 0: any free port)."""
    app = create_app(state, getattr(state, "settings", None))
    wsgi = wrap(app) if wrap else app
    server = make_server("127.0.0.1", port, wsgi, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="jsm-sandbox", daemon=True)
    thread.start()
    return RunningSandbox(state, server, thread)
