"""The service with its console, served over real HTTP on localhost beside a sandbox site that
signs people in as Atlassian does (sandbox/oauth_api.py)."""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.cookiejar import DefaultCookiePolicy

import requests

from jsm_autopilot.config.settings import ConsoleSettings
from jsm_autopilot.service.http_server import create_server
from jsm_autopilot.service.serve import Service
from tests.site import AGENT, Site, site_with_due_reminder

# The console reads the audit and the schedule by the wall clock, as on a real site where Jira's
# clock is the same: the ticket's reminder falls due now.
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=10)
ADMIN = "ada@vendor.example"
RELEASE_MANAGER = "rick@vendor.example"
SESSION_KEY = "k" * 40


def csrf_token(page_text: str) -> str:
    """The CSRF token a console page carries in its forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalhostSession(requests.Session):
    # requests copies the jar into one with the default policy for each request, which keeps
    # Secure cookies to https: send from our own jar instead.
    def prepare_request(self, request):
        prepared = super().prepare_request(request)
        prepared.headers.pop("Cookie", None)
        prepared.prepare_cookies(self.cookies)
        return prepared


@dataclass
class ConsoleSite:
    site: Site
    service: Service
    url: str  # the console's own address, http://localhost:<port>
    key: str  # a ticket with a reminder due
    client_id: str
    client_secret: str
    server: object
    thread: threading.Thread

    def browser_session(self) -> requests.Session:
        """A client that sends the console's Secure cookie to http://localhost, as Chromium does."""
        session = LocalhostSession()
        session.cookies.set_policy(DefaultCookiePolicy(secure_protocols=("https", "wss", "http")))
        return session

    def sign_in(self, email: str, session: requests.Session | None = None) -> requests.Response:
        """Through the sandbox's consent page, as a person clicks through it."""
        session = session or self.browser_session()
        to_atlassian = session.get(f"{self.url}/console/sign-in/atlassian", allow_redirects=False)
        consent = to_atlassian.headers["Location"]
        form = dict(item.split("=", 1) for item in consent.split("?", 1)[1].split("&"))
        from urllib.parse import unquote_plus

        form = {k: unquote_plus(v) for k, v in form.items()}
        back = session.post(consent.split("?")[0], data={**form, "email": email, "decision": "accept"}, allow_redirects=False)
        return session.get(back.headers["Location"], allow_redirects=True)

    def signed_in(self, email: str) -> requests.Session:
        """A browser session signed in as `email`."""
        session = self.browser_session()
        self.sign_in(email, session)
        return session

    def stop(self) -> None:
        self.server.close()  # type: ignore[attr-defined]
        self.thread.join(timeout=10)


def console_site(site_factory, store, sign_in: str = "oauth", scopes: list[str] | None = None, site: Site | None = None,
                 deployment: str = "cloud") -> ConsoleSite:
    """The console on a sandbox site: by default one whose ticket has a reminder due now; or `site`."""
    key = ""
    if site is None:
        site, key = site_with_due_reminder(site_factory, T0, deployment=deployment)
    port = free_port()
    url = f"http://localhost:{port}"
    # The scopes the app was given: by default what the console asks for (the sandbox's default per deployment).
    registered = requests.post(f"{site.url}/_sandbox/oauth/apps", json={
        "callback_url": f"{url}/console/signed-in", **({"scopes": scopes} if scopes else {})}).json()
    requests.post(f"{site.url}/_sandbox/groups", json={"name": "jira-administrators", "members": [ADMIN]}).raise_for_status()
    requests.post(f"{site.url}/_sandbox/groups", json={"name": "release-managers", "members": [RELEASE_MANAGER]}).raise_for_status()
    requests.post(f"{site.url}/_sandbox/groups", json={"name": "jira-servicedesk-users", "members": [AGENT, ADMIN]}).raise_for_status()
    console = ConsoleSettings(enabled=True, public_url=url, auth_url=site.url, api_url=site.url, sign_in=sign_in)  # type: ignore[arg-type]
    settings = site.settings.model_copy(update={"console": console})
    environ = {"JSM_AUTOPILOT_CONSOLE_SESSION_KEY": SESSION_KEY, "JSM_AUTOPILOT_CONSOLE_CLIENT_ID": registered["client_id"],
               "JSM_AUTOPILOT_CONSOLE_CLIENT_SECRET": registered["client_secret"]}
    service = Service(settings, store, site.client(), b"secret", console_environ=environ)
    server = create_server(service.app, host="127.0.0.1", port=port, threads=4)
    def run() -> None:
        try:
            server.run()
        except (OSError, ValueError):  # its sockets closed under it by stop()
            pass

    thread = threading.Thread(target=run, name="console", daemon=True)
    thread.start()
    return ConsoleSite(site, service, url, key, registered["client_id"], registered["client_secret"], server, thread)


def later(site: Site, minutes: int) -> None:
    site.set_clock(site.state.now + timedelta(minutes=minutes))
