"""The documentation site (issue 32): `mkdocs build --strict` passes, and its generated reference
names every command, flag, `app.yaml` key, rule and environment variable. Each list it is checked
against comes from somewhere the generator does not read: click's command tree, the settings'
JSON schema, the catalogue, and the variables the code reads."""

from __future__ import annotations

import ast
import html
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parent.parent
QUIET = {"NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    built = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(built)],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, **QUIET}, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return built


def text_of(site: Path, page: str) -> str:
    raw = (site / page / "index.html").read_text(encoding="utf-8")
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", raw)).split())


def test_the_site_builds_strictly_with_every_page_of_the_nav(site):
    for page in ("reference/cli", "reference/settings", "reference/rules", "reference/environment", "console", "install"):
        assert (site / page / "index.html").is_file(), page


def _commands(group: click.Command, path: tuple[str, ...] = ()):
    yield path, group
    if isinstance(group, click.Group):
        for name, command in group.commands.items():
            yield from _commands(command, (*path, name))


def test_every_command_and_flag_has_a_reference_entry(site):
    from jsm_autopilot.cli.commands import cli

    shown = text_of(site, "reference/cli")
    missing = []
    for path, command in _commands(cli):
        if path and f"jsm-autopilot {' '.join(path)}" not in shown:
            missing.append(" ".join(path))
        for parameter in command.params:
            missing += [f"{' '.join(path)} {flag}" for flag in parameter.opts if flag.startswith("-") and flag not in shown]
    assert missing == []


def _schema_keys(schema: dict, node: dict, prefix: str = "") -> set[str]:
    """Key paths of the settings' JSON schema: properties, $refs, maps (additionalProperties), anyOf."""
    if "$ref" in node:
        return _schema_keys(schema, schema["$defs"][node["$ref"].split("/")[-1]], prefix)
    keys: set[str] = set()
    for option in node.get("anyOf", []):
        keys |= _schema_keys(schema, option, prefix)
    for name, inner in node.get("properties", {}).items():
        keys.add(prefix + name)
        keys |= _schema_keys(schema, inner, f"{prefix}{name}.")
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and ("$ref" in extra or "properties" in extra):
        keys |= _schema_keys(schema, extra, f"{prefix}<name>.")
    return keys


def test_every_app_yaml_key_has_a_reference_entry(site):
    from jsm_autopilot.config.settings import Settings

    schema = Settings.model_json_schema(mode="serialization")  # durations as app.yaml writes them: text
    keys = _schema_keys(schema, schema)
    assert len(keys) > 150 and "timers.clarification.reminder_every" in keys and "organisations.<name>.language" in keys
    shown = text_of(site, "reference/settings")
    assert sorted(key for key in keys if key not in shown) == []


def test_every_app_yaml_key_says_what_it_means():
    """A new setting needs a comment beside its field (or its section a docstring): the reference shows it."""
    from jsm_autopilot.reference import setting_keys

    assert [key.path for key in setting_keys() if not key.meaning.strip()] == []


def test_every_rule_has_a_reference_entry_with_its_chapter(site):
    from jsm_autopilot.rules.catalogue import RULES

    shown = text_of(site, "reference/rules")
    assert [rule.id for rule in RULES if f"{rule.id} ¶ Guide: {rule.chapter}" not in shown] == []


def _variables_read() -> set[str]:
    """Environment variables the service's code names: literals passed to environ/getenv/envvar=,
    and the *_VARIABLE constants the modules keep their names in."""
    found: set[str] = set()
    looks_like = re.compile(r"^(JSM_AUTOPILOT_[A-Z_]+|JIRA_[A-Z_]+|PGPASSWORD|XDG_[A-Z_]+)$")
    for folder in ("cli", "config", "connector", "console", "service", "store", "webhooks", "jsm_autopilot"):
        for path in (ROOT / folder).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and looks_like.match(node.value):
                    found.add(node.value)
    found.discard("JSM_AUTOPILOT_TEST_POSTGRES")  # the tests' own
    return found


def test_every_environment_variable_the_code_reads_has_a_reference_entry(site):
    read = _variables_read()
    assert {"JIRA_URL", "JSM_AUTOPILOT_DB", "JSM_AUTOPILOT_CONSOLE_SESSION_KEY"} <= read
    shown = text_of(site, "reference/environment")
    assert sorted(name for name in read if name not in shown) == []
