"""The baseline for bench/intake.py: a Flask endpoint that does nothing but answer, on `serve`'s server.

It answers as the receiver does, 202 with a small JSON body, so that the two differ only in the
work. (It answered 204 until 2026-12-01: waitress closes the connection after every 204, as a 204
carries no Content-Length, so each delivery to the baseline paid a new TCP connection and the
baseline ran at about 0.8 of what Flask does here. Every ratio measured against it was about a
quarter too high.)
"""

from __future__ import annotations

import json
import sys

from flask import Flask, Response

from jsm_autopilot.service.http_server import create_server

app = Flask("bare")
# As long as the receiver's answer to a bench delivery.
ANSWER = json.dumps({"status": "accepted", "identifier": "bench-0000000-serve-SQLite-1-0000"})


@app.post("/webhooks/jira")
def bare() -> Response:
    return Response(ANSWER, 202, mimetype="application/json")


@app.get("/healthz")
def health() -> Response:
    return Response(status=200)


if __name__ == "__main__":
    create_server(app, host="127.0.0.1", port=int(sys.argv[1]), threads=8).run()
