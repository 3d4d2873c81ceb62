"""The README's promises that scripts depend on, and what it and the docs say is built."""

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

    guide = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    for section in yaml.safe_load((ROOT / "app.yaml").read_text(encoding="utf-8")):
        assert f"`{section}." in guide, f"docs/settings.md does not explain app.yaml section {section!r}"


def test_the_readme_is_short_and_keeps_both_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    assert "jsm-autopilot demo" in readme and _test_command() in readme


def test_what_the_readme_says_is_planned_is_what_check_lists_as_planned():
    from jsm_autopilot.rules.catalogue import RULES

    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    said = re.search(r"Planned, not built yet: (.+?)\.(?:\s|$)", readme)
    assert said, "README must say which rules are planned"
    assert re.findall(r"`([a-z_]+\.[a-z_]+)`", said.group(1)) == [rule.id for rule in RULES if not rule.implemented]


def test_the_rules_page_says_implemented_exactly_for_the_rules_check_lists_as_on_or_off():
    from jsm_autopilot.rules.catalogue import RULES

    rows = re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| [^|]+ \| (implemented|planned) \|", (ROOT / "docs" / "rules.md").read_text(encoding="utf-8"),
                      flags=re.MULTILINE)
    assert sorted(rows) == sorted((rule.id, "implemented" if rule.implemented else "planned") for rule in RULES)
