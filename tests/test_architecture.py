"""The core stays pure, and the catalogue matches PROCESS.md."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

from jsm_autopilot.rules.catalogue import RULES
from tests.conftest import ROOT, SHARED

# What the functional core may import: the standard library's pure parts, itself, and config's
# types (under TYPE_CHECKING only, checked below).
ALLOWED_IN_RULES = {
    "__future__", "collections", "dataclasses", "datetime", "enum", "functools", "itertools",
    "re", "types", "typing", "unicodedata", "zoneinfo", "rules",
}
FORBIDDEN_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time"), ("time", "monotonic")}


def _rules_modules():
    return sorted((ROOT / "rules").glob("*.py"))


def package_of(module: str) -> str:
    """`rules` for `jsm_autopilot.rules.model`: the folder, under the one namespace (issue 30)."""
    return module.removeprefix("jsm_autopilot.").split(".")[0]


def _runtime_imports(tree: ast.Module):
    """Imports outside `if TYPE_CHECKING:` blocks."""
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield package_of(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield package_of(node.module)


@pytest.mark.parametrize("path", _rules_modules(), ids=lambda p: p.name)
def test_rules_import_nothing_that_does_io(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set(_runtime_imports(tree))
    assert imported <= ALLOWED_IN_RULES, f"{path.name} imports {sorted(imported - ALLOWED_IN_RULES)}"


@pytest.mark.parametrize("path", _rules_modules(), ids=lambda p: p.name)
def test_rules_never_read_the_clock_or_files(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                assert (func.value.id, func.attr) not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} reads the clock"
            if isinstance(func, ast.Name):
                assert func.id not in ("open", "input", "print"), f"{path.name}:{node.lineno} does I/O"


def test_importing_the_core_loads_no_http_or_framework():
    probe = "import sys, jsm_autopilot.rules.catalogue; print('\\n'.join(sorted(sys.modules)))"
    loaded = {package_of(name) for name in
              subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()}
    for module in ("flask", "requests", "atlassian", "urllib3", "sqlalchemy", "connector", "webhooks", "store", "config"):
        assert module not in loaded, f"importing rules loads {module}"


def _rules_of(process_md: str) -> list[tuple[str, bool]]:
    """Each rule id of a PROCESS.md text in its order, and whether it is marked *(planned)*."""
    rules_part = process_md.split("## Rules", 1)[1].split("## What every automated action must satisfy", 1)[0]
    found = re.findall(r"^- `([a-z_]+\.[a-z_]+)`( \*\(planned\)\*)?", rules_part, flags=re.MULTILINE)
    return [(rule_id, bool(marker)) for rule_id, marker in found]


def _process_rules() -> list[tuple[str, bool]]:
    return _rules_of((SHARED / "PROCESS.md").read_text(encoding="utf-8"))


def test_the_catalogue_lists_every_rule_of_process_md_in_order():
    assert [rule.id for rule in RULES] == [rule_id for rule_id, _ in _process_rules()]


def test_every_rule_of_process_md_is_implemented_unless_it_is_marked_planned():
    planned = {rule_id for rule_id, is_planned in _process_rules() if is_planned}
    assert [rule.id for rule in RULES if not rule.implemented and rule.id not in planned] == []


def test_only_the_marker_right_after_the_id_exempts_a_rule():
    text = ("## Rules\n- `a.built` (2.9): mentions *(planned)* later in its text.\n"
            "- `b.later` *(planned)* (3.5): not built yet.\n- Month-end billing: not a rule id.\n"
            "## What every automated action must satisfy\n- `c.outside` *(planned)*\n")
    assert _rules_of(text) == [("a.built", False), ("b.later", True)]


def test_the_command_starts_without_loading_what_it_does_not_need():
    """`--help` and `--version` load no server, no Jira client, no store, no sandbox, no n-gram or
    holiday tables, no learning library (issue 16: a CLI that starts at once; bench/cli.py times it)."""
    probe = ("import sys\nfrom jsm_autopilot.cli.main import run\nfor argv in (['x', '--help'], ['x', '--version']):\n"
             "    sys.argv = argv\n    try:\n        run()\n    except SystemExit:\n        pass\n"
             "print('LOADED', ' '.join(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = {package_of(name) for name in done.stdout.split("LOADED", 1)[1].split()}
    heavy = {"flask", "werkzeug", "waitress", "sqlalchemy", "atlassian", "requests", "sandbox", "charsplit", "holidays",
             "sklearn", "numpy", "icalendar", "apscheduler", "connector", "webhooks", "store", "service", "console", "authlib",
             "flask_wtf"}
    assert loaded & heavy == set()
    assert "jsm-autopilot 0.1.0" in done.stdout


# The folders installed under jsm_autopilot (issue 30), and the arrows between them.
PACKAGES = ("cli", "config", "connector", "console", "rules", "sandbox", "service", "store", "webhooks")


def _modules(package: str):
    return sorted((ROOT / package).glob("*.py"))


def _all_imports(tree: ast.Module):
    """Every import, at the top or inside a function: a lazy import is an arrow too."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.module, alias.name


def _package_arrows() -> dict[str, set[str]]:
    arrows: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for package in PACKAGES:
        for path in _modules(package):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
                    node.body = []  # types only: no arrow at run time
            for module, _ in _all_imports(tree):
                if module.startswith("jsm_autopilot.") and package_of(module) in PACKAGES and package_of(module) != package:
                    arrows[package].add(package_of(module))
    return arrows


def test_the_settings_import_no_rules():
    """STYLE.md: settings never import rules (which rule ids exist is checked at start-up)."""
    found = [f"{path.name}: {module}" for path in _modules("config")
             for module, _ in _all_imports(ast.parse(path.read_text(encoding="utf-8"))) if package_of(module) == "rules"]
    assert found == []


def test_no_module_imports_another_modules_private_name():
    found = [f"{package}/{path.name}: {module}.{name}" for package in PACKAGES for path in _modules(package)
             for module, name in _all_imports(ast.parse(path.read_text(encoding="utf-8")))
             if module.startswith("jsm_autopilot.") and name and name.startswith("_") and not name.startswith("__")]
    assert found == []


def test_no_two_packages_import_each_other_even_through_a_third():
    arrows = _package_arrows()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for step in arrows[todo.pop()] - seen:
                if step == goal:
                    return True
                seen.add(step)
                todo.append(step)
        return False

    circles = sorted({tuple(sorted((a, b))) for a in PACKAGES for b in PACKAGES if a != b and reaches(a, b) and reaches(b, a)})
    assert circles == []
    assert arrows["rules"] == set()  # the core imports no other package at run time
