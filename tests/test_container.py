"""The container image (issue 18), built by deploy/build-image.sh --local-base from Debian's
packages and run with the host's network against the sandbox and this machine's PostgreSQL.

Marked `container`: `.ci/run` makes Docker's daemon run where it can; elsewhere these tests skip
and say why. Docker never pulls here: local image names, `--pull never`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import POSTGRES_URL, empty_postgres_store
from tests.site import BOT
from tests.test_replicas import sweeps_in
from tests.test_serve_process import free_port, wait_for

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parent.parent
TAG = "jsm-autopilot:test"
SECRET = "container-secret"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def docker(*arguments: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *arguments], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(arguments[:3])} failed: {result.stderr[-2000:]}")
    return result


def why_no_docker() -> str | None:
    if shutil.which("docker") is None:
        return "no docker command here (Debian: apt-get install docker.io; .ci/run installs it where it can)"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode != 0:
        return "Docker's daemon does not answer (start dockerd; .ci/run does where it can)"
    return None


@pytest.fixture(scope="module")
def image() -> str:
    reason = why_no_docker()
    if reason:
        pytest.skip(reason)
    built = subprocess.run(["bash", "deploy/build-image.sh", "--local-base", "--tag", TAG], cwd=ROOT,
                           capture_output=True, text=True, timeout=1800)
    assert built.returncode == 0, built.stderr[-4000:]
    assert built.stdout.strip().splitlines()[-1] == TAG  # the script names what it built
    return TAG


class Container:
    """`serve` in the image, on the host's network, against a sandbox site."""

    def __init__(self, image: str, site, directory: Path, database: str, sweep_every: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = yaml.safe_load(site.settings.model_dump_json())
        if sweep_every:
            config["schedule"] = {"sweep_every": sweep_every, "full_pass_at": None}
        self.config = directory / "app.yaml"
        self.config.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.config.chmod(0o644)  # the image runs as its own user
        self.name = f"jsm-autopilot-test-{self.port}"
        self.arguments = [
            "run", "--detach", "--pull", "never", "--network", "host", "--name", self.name,
            "--health-interval", "1s", "--health-start-period", "1s",
            "--volume", f"{self.config}:/etc/jsm-autopilot/app.yaml:ro",
            "--env", f"JIRA_URL={site.url}", "--env", f"JIRA_USER={BOT}", "--env", "JIRA_API_TOKEN=token",
            "--env", f"JSM_AUTOPILOT_WEBHOOK_SECRET={SECRET}", "--env", f"JSM_AUTOPILOT_DB={database}",
            "--env", f"JSM_AUTOPILOT_PORT={self.port}", image,
        ]

    def start(self) -> "Container":
        docker(*self.arguments)
        wait_for(self.answers, 60, f"{self.name} to answer /healthz")
        return self

    def answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            state = self.state()
            assert state["Running"], f"{self.name} stopped: {self.logs()[-3000:]}"
            return False

    def state(self) -> dict:
        return json.loads(docker("inspect", "--format", "{{json .State}}", self.name).stdout)

    def logs(self) -> str:
        result = docker("logs", self.name, check=False)
        return result.stdout + result.stderr

    def remove(self) -> None:
        docker("rm", "--force", self.name, check=False)


@pytest.fixture
def containers():
    started: list[Container] = []
    yield started
    for container in started:
        container.remove()


@pytest.fixture
def postgres_url() -> str:
    empty_postgres_store().dispose()
    return POSTGRES_URL


def test_the_image_prints_the_package_version_and_runs_as_its_own_user(image):
    shown = docker("run", "--rm", "--pull", "never", image, "--version").stdout.strip()
    assert shown == f"jsm-autopilot {version('jsm-autopilot')}"
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", image).stdout)
    assert config["User"] == "jsm-autopilot"
    assert config["Entrypoint"] == ["jsm-autopilot"] and config["Cmd"][0] == "serve"
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])
    assert "JSM_AUTOPILOT_CONFIG=/etc/jsm-autopilot/app.yaml" in config["Env"]
    assert any(entry.startswith("JSM_AUTOPILOT_DB=postgresql") for entry in config["Env"])
    uid = docker("run", "--rm", "--pull", "never", "--entrypoint", "id", image, "-u").stdout.strip()
    assert uid != "0"


def test_the_image_serves_against_the_sandbox_and_its_healthcheck_passes(image, site_factory, tmp_path, postgres_url, containers):
    site = site_factory(T0)
    container = Container(image, site, tmp_path, postgres_url)
    containers.append(container)
    container.start()  # the image's own command: serve on 0.0.0.0, the port from JSM_AUTOPILOT_PORT
    assert requests.get(f"{container.url}/healthz", timeout=5).status_code == 200
    wait_for(lambda: requests.get(f"{container.url}/readyz", timeout=5).status_code == 200, 30, "/readyz: store and Jira both fine")
    wait_for(lambda: container.state().get("Health", {}).get("Status") == "healthy", 30, "Docker's HEALTHCHECK to pass")


def test_two_containers_share_the_work_and_a_killed_one_loses_nothing(image, site_factory, tmp_path, postgres_url, containers):
    """Both on the host's network, so both have the host's name and are pid 1: only their PID
    namespaces tell them apart (service/identity.py). One is killed with `docker kill` while
    reminders are due; no reminder and no close happens twice, and every ticket is closed once."""
    site = site_factory(T0 - timedelta(days=1))
    keys = [site.create(summary=f"waiting {n}") for n in range(12)]
    for n, key in enumerate(keys):
        site.set_clock(T0 + timedelta(days=n % 4))
        site.move(key, "Clarification required / On hold")
    for name in ("a", "b"):
        directory = tmp_path / name
        directory.mkdir()
        containers.append(Container(image, site, directory, postgres_url, sweep_every="1s"))
    for container in containers:
        container.start()
    first, second = containers
    pause = threading.Event()

    def all_closed() -> bool:
        return all(site.issue(key)["fields"]["status"]["name"] == "Closed" for key in keys)

    for step in range(1, 16):  # 15 jumps of 4 days: every reminder and every close comes due
        site.set_clock(T0 + timedelta(days=4 * step))
        pause.wait(1.5 if step != 5 else 0.3)  # real seconds: the replicas' schedules come round
        if step == 5:
            docker("kill", first.name)
    state = first.state()
    assert not state["Running"] and state["ExitCode"] == 137
    # A lease the killed one held runs out within 2 minutes; then the survivor finishes.
    for extra in range(1, 200):
        if all_closed():
            break
        site.set_clock(T0 + timedelta(days=60 + 10 * extra))
        pause.wait(1.5)
    assert second.state()["Running"], second.logs()[-3000:]
    for key in keys:
        firings = [f["rule"] for f in site.issue(key)["properties"]["jsm-autopilot"]["firings"]]
        # While the survivor waited for the killed one's lease, a reminder's day may have passed:
        # then only the latest one due is sent (PROCESS.md: never a burst), so 1 to 3 reminders.
        assert firings[-1:] == ["clarification.close"] and 1 <= len(firings) - 1 <= 3, f"{key}: {firings}"
        assert set(firings[:-1]) == {"clarification.reminder"}, f"{key}: {firings}"
        assert len(site.comments_by_bot(key, public=True)) == len(firings), f"{key}: each customer comment exactly once"
    swept = []
    for container in containers:
        log = tmp_path / f"{container.name}.log"
        log.write_text(container.logs(), encoding="utf-8")
        swept.append(sweeps_in(log))
    names = [{holder for holder, _, _ in spans} for spans in swept]
    assert names[1] and not names[0] & names[1], f"each replica sweeps under a name of its own: {names}"
    spans = sorted(swept[0] + swept[1], key=lambda span: span[1])
    for (_, _, end), (_, start, _) in zip(spans, spans[1:]):
        assert start >= end, "a sweep began before the previous one ended: the replicas took each other for one"
