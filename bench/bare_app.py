"""The baseline for bench/intake.py: a Flask endpoint that only answers 204, on the same server."""

from __future__ import annotations

import sys

import waitress
from flask import Flask, Response

app = Flask("bare")


@app.post("/webhooks/jira")
def bare() -> Response:
    return Response(status=204)


@app.get("/healthz")
def health() -> Response:
    return Response(status=200)


if __name__ == "__main__":
    waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=8, _quiet=True)
