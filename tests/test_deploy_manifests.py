"""The deployment files (issue 18): Kubernetes manifests against the Kubernetes schemas
(kubernetes-validate, strict: an unknown or misspelt field fails), the compose file through
Compose's own `config`, and what the Deployment promises about probes, secrets and resources."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "deploy" / "kubernetes"
# The oldest Kubernetes still supported upstream when this was written, and the newest the
# validator knows: the manifests must hold on both.
KUBERNETES_VERSIONS = ["1.31.0", kubernetes_validate.latest_version()]


def documents(path: Path) -> list[dict]:
    return [document for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]


def manifests() -> list[Path]:
    return sorted(path for path in MANIFESTS.glob("*.yaml") if path.name != "kustomization.yaml")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", manifests(), ids=lambda p: p.name)
def test_each_manifest_is_valid_kubernetes(path, version):
    for document in documents(path):
        kubernetes_validate.validate(document, version, strict=True)


def test_the_validator_refuses_a_misspelt_field():
    """The check above can fail: a probe's misspelt key is refused."""
    deployment = documents(MANIFESTS / "deployment.yaml")[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSecond"] = 10
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_example():
    listed = set(documents(MANIFESTS / "kustomization.yaml")[0]["resources"])
    assert listed == {path.name for path in manifests()} - {"secret.example.yaml"}


def test_the_deployment_runs_two_replicas_with_both_probes_secrets_and_resources():
    deployment = documents(MANIFESTS / "deployment.yaml")[0]
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    environment = {entry["name"]: entry for entry in container["env"]}
    for secret in ("JIRA_API_TOKEN", "JIRA_USER", "JSM_AUTOPILOT_WEBHOOK_SECRET", "PGPASSWORD"):
        assert "secretKeyRef" in environment[secret]["valueFrom"], f"{secret} comes from a Secret, never from the manifest"
    assert environment["JSM_AUTOPILOT_DB"]["value"].startswith("postgresql+psycopg://")
    assert ":" not in environment["JSM_AUTOPILOT_DB"]["value"].split("//")[1].split("@")[0], "no password in the URL"
    assert container["resources"]["requests"]["memory"] and container["resources"]["limits"]["memory"]
    config = yaml.safe_load(documents(MANIFESTS / "configmap.yaml")[0]["data"]["app.yaml"])
    assert config["project"]["key"]
    budget = documents(MANIFESTS / "pdb.yaml")[0]
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    service = documents(MANIFESTS / "service.yaml")[0]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def compose_command() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_the_compose_file_passes_compose_config():
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` here (Debian: apt-get install docker-compose; .ci/run does)")
    checked = subprocess.run([*command, "-f", str(ROOT / "deploy" / "compose.yaml"), "config"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    services = yaml.safe_load(checked.stdout)["services"]
    assert services["autopilot"]["deploy"]["replicas"] == 2
    assert {"postgres", "sandbox", "autopilot"} <= set(services)
    assert services["autopilot"]["pull_policy"] == "never" and services["sandbox"]["pull_policy"] == "never"


def test_compose_config_refuses_a_broken_file(tmp_path):
    """The check above can fail."""
    command = compose_command()
    if command is None:
        pytest.skip("no Compose here")
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  autopilot:\n    image: x\n    deploy:\n      replicas: two\n", encoding="utf-8")
    assert subprocess.run([*command, "-f", str(broken), "config"], capture_output=True).returncode != 0
