"""The container image: its size, its cold start, and the memory `serve` uses in it.

Run: .venv/bin/python -m bench.image [--tag jsm-autopilot:latest] [--starts 5] [--deliveries 2000]

The image must exist (deploy/build-image.sh). Cold start is from `docker run` to the first 200 of
/healthz, with the host's network, the SQLite store in the container's /tmp and a sandbox on
the host. Memory is what Docker reports for the container idle after start, and after a burst
of signed deliveries has been worked; the Kubernetes manifests' requests and limits come from it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake import SCRIPT, SECRET, bodies, free_port, load  # noqa: E402


def docker(*arguments: str) -> str:
    return subprocess.run(["docker", *arguments], check=True, capture_output=True, text=True).stdout.strip()


def memory_mib(name: str) -> float:
    used = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", name).split("/")[0].strip()
    number, unit = float(used.rstrip("KMGiB")), used.lstrip("0123456789.")
    return number * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "B": 1 / 2**20}[unit]


def start(tag: str, sandbox_url: str, port: int, name: str) -> float:
    began = time.perf_counter()
    docker("run", "--detach", "--pull", "never", "--network", "host", "--name", name,
           "--volume", f"{ROOT / 'app.yaml'}:/etc/jsm-autopilot/app.yaml:ro",
           "--env", f"JIRA_URL={sandbox_url}", "--env", "JIRA_USER=autopilot@vendor.example", "--env", "JIRA_API_TOKEN=token",
           "--env", f"JSM_AUTOPILOT_WEBHOOK_SECRET={SECRET}", "--env", "JSM_AUTOPILOT_DB=sqlite:////tmp/events.db",
           "--env", f"JSM_AUTOPILOT_PORT={port}", tag)
    while time.perf_counter() - began < 120:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return time.perf_counter() - began
        except requests.ConnectionError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"{name} did not answer /healthz within 120 s:\n{docker('logs', name)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", default="jsm-autopilot:latest")
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--deliveries", type=int, default=2000)
    options = parser.parse_args()
    size = int(docker("image", "inspect", "--format", "{{.Size}}", options.tag))
    sandbox_port = free_port()
    sandbox = subprocess.Popen([str(SCRIPT), "sandbox", "--port", str(sandbox_port), "--config", str(ROOT / "app.yaml")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    names: list[str] = []
    try:
        starts, idle, worked = [], 0.0, 0.0
        for n in range(options.starts):
            port = free_port()
            names.append(f"jsm-autopilot-bench-{port}")
            starts.append(start(options.tag, f"http://127.0.0.1:{sandbox_port}", port, names[-1]))
            if n == options.starts - 1:
                time.sleep(3)  # settle: the first probe of Jira, the scheduler
                idle = memory_mib(names[-1])
                load(f"http://127.0.0.1:{port}", bodies(options.deliveries), 8)
                time.sleep(5)  # the workers take the burst
                worked = memory_mib(names[-1])
            else:
                docker("rm", "--force", names.pop())
    finally:
        for name in names:
            subprocess.run(["docker", "rm", "--force", name], capture_output=True)
        sandbox.terminate()
        sandbox.wait(timeout=30)
    print(f"image {options.tag}: {size / 1e6:.0f} MB")
    print(f"cold start to /healthz: median {statistics.median(starts):.2f} s, slowest {max(starts):.2f} s ({len(starts)} starts)")
    print(f"memory of serve: {idle:.0f} MiB idle, {worked:.0f} MiB after {options.deliveries} deliveries")
    # The sandbox's tickets are English and short; a German compound in a ticket's text loads the
    # n-gram tables, and `triage learn` the model: measured in a process of the image of its own.
    heaviest = docker("run", "--rm", "--pull", "never", "--entrypoint", "python3", options.tag, "-c",
                      "import resource; from jsm_autopilot.config.vocabulary import terms_of; from jsm_autopilot.config.triage_model import learn; "
                      "terms_of('Rechnungsadresse Benutzerverwaltung'); learn([('Absturz beim Import', 'Incident'), ('Bitte neue Lizenz', 'Request')] * 5); "
                      "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)")
    print(f"with the German n-gram tables and the triage model loaded: {heaviest} MiB")


if __name__ == "__main__":
    main()
