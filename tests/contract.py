"""Checks every request the sandbox receives and every response it gives against Atlassian's
published OpenAPI documents in ../shared/contracts/ (openapi-core). Where the sandbox and the
spec disagree, the spec wins: a violation fails the test that caused it."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask import Flask, Response, request
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

CONTRACTS = Path(__file__).resolve().parent.parent.parent / "shared" / "contracts"

# Deviations of real Jira from its own spec, documented in JIRA-CONTRACT.md, that the sandbox
# reproduces on purpose: (method, spec path, status).
KNOWN_DEVIATIONS = {
    # 3.3: the removed search answers 410, which the spec (still listing the operation) does not.
    ("GET", "/rest/api/3/search", 410),
    ("POST", "/rest/api/3/search", 410),
    # sandbox/REAL_JIRA.md: Data Center has no workflow scheme resource; doctor asks and falls back.
    ("GET", "/rest/api/3/workflowscheme/project", 404),
}


@lru_cache(maxsize=None)
def _spec(name: str) -> OpenAPI:
    document = json.loads((CONTRACTS / name).read_text(encoding="utf-8"))
    # Relative server: the sandbox listens on 127.0.0.1, not your-domain.atlassian.net.
    document["servers"] = [{"url": "/"}]
    # The published document breaks one of its own enums (a default of ''), so the document
    # itself is not validated; the traffic is.
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


@dataclass
class _Request:
    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters


@dataclass
class _Response:
    status_code: int
    content_type: str
    headers: Headers
    data: bytes | None


class ContractRecorder:
    """Install on the sandbox's Flask app; collects violations in `violations`."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.checked = 0
        self._lock = threading.Lock()

    def install(self, app: Flask) -> Flask:
        app.after_request(self._check)
        return app

    def _check(self, response: Response) -> Response:
        path = request.path
        if not path.startswith(("/rest/api/", "/rest/servicedeskapi/")):
            # /rest/webhooks/1.0 is in neither document (contracts/README.md); only prose describes it.
            return response
        if path.startswith("/rest/servicedeskapi/"):
            spec, spec_path = _spec("jsm-servicedeskapi.openapi.json"), path
        else:
            # v2 and v3 offer the same operations; only comment/description bodies differ
            # (JIRA-CONTRACT.md 1.1), and those are untyped in the spec.
            spec, spec_path = _spec("jira-platform-v3.openapi.json"), path.replace("/rest/api/2/", "/rest/api/3/", 1)
        headers = Headers(list(request.headers.items()))
        contract_request = _Request(
            host_url=request.host_url.rstrip("/"),
            path=spec_path,
            method=request.method.lower(),
            body=request.get_data() or None,
            content_type=(request.content_type or "application/json").lower(),
            parameters=RequestParameters(query=ImmutableMultiDict(request.args), header=headers, cookie=ImmutableMultiDict(request.cookies)),
        )
        problems = [f"request: {e}" for e in spec.iter_request_errors(contract_request)]
        injected = response.headers.get("X-Sandbox-Fault") == "injected"
        deviation = (request.method, spec_path, response.status_code) in KNOWN_DEVIATIONS
        if not injected and not deviation:
            contract_response = _Response(response.status_code, (response.content_type or "").lower(), Headers(response.headers), response.get_data() or None)
            errors = spec.iter_response_errors(contract_request, contract_response)
            problems += [f"response: {_describe(e)}" for e in errors if not _empty_204(response, e)]
        with self._lock:
            self.checked += 1
            self.violations.extend(f"{request.method} {path} -> {response.status_code}: {p[-500:]}" for p in problems)
        return response


def _empty_204(response: Response, error: Exception) -> bool:
    """Atlassian's document gives its 204 answers a JSON content type, but HTTP forbids a body on
    204 (RFC 9110 15.3.5) and Jira sends none; an empty 204 is the only answer that can be right."""
    return response.status_code == 204 and type(error).__name__ == "MissingData"


def _describe(error: Exception) -> str:
    details = getattr(error, "schema_errors", None) or []
    return str(error) + "".join(f" [{d.message}]" for d in list(details)[:3])
