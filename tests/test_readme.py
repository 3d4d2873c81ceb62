"""The README's promises that scripts depend on."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- test-command -->\s*```sh\n(.+?)\n```", readme, flags=re.DOTALL)
    assert block, "README must mark its test command with <!-- test-command -->"
    return block.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _test_command() in ci.splitlines()


def test_every_app_yaml_section_is_documented():
    import yaml

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for section in yaml.safe_load((ROOT / "app.yaml").read_text(encoding="utf-8")):
        assert f"`{section}." in readme, f"README does not explain app.yaml section {section!r}"
