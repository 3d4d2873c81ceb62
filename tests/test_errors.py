"""One error tree (issue 30 item 2): the drawing in jsm_autopilot.errors is the tree, every error
the service raises on purpose is in it, and commands turn it into exit statuses and one-line
messages in one place."""

from __future__ import annotations

import ast
import re

import click
import pytest
from click.testing import CliRunner

from jsm_autopilot import errors
from jsm_autopilot.cli.common import BAD_INPUT, EXIT_STATUS, SOME_FAILED, AutomationGroup, exit_status
from tests.conftest import ROOT

# Folders whose modules may define exceptions: the sandbox stands for Jira and answers as Jira does.
SERVICE_FOLDERS = ("cli", "config", "connector", "console", "rules", "service", "store", "webhooks", "jsm_autopilot")


def _drawn_tree() -> dict[str, str]:
    """child -> parent, read from the docstring's drawing by the column each name starts at."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        found = re.match(r"^(?P<lead>[\s│├└─]*)(?P<name>[A-Z][A-Za-z]+)\b", line)
        if not found or not re.search(r"[├└]── |^    AutomationError", line):
            continue
        column = len(found.group("lead"))
        while stack and stack[-1][0] >= column:
            stack.pop()
        if stack:
            parents[found.group("name")] = stack[-1][1]
        stack.append((column, found.group("name")))
    return parents


def _tree_classes() -> list[type]:
    found, todo = [], [errors.AutomationError]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo.extend(kind.__subclasses__())
    return [kind for kind in found if kind.__module__ == "jsm_autopilot.errors"]


def test_the_drawing_is_the_tree():
    drawn = _drawn_tree()
    actual = {kind.__name__: next(base.__name__ for base in kind.__bases__ if issubclass(base, errors.AutomationError))
              for kind in _tree_classes() if kind is not errors.AutomationError}
    assert drawn == actual


def test_the_values_errors_also_are_are_marked_in_the_drawing():
    starred = set(re.findall(r"([A-Z][A-Za-z]+) \*", errors.__doc__ or ""))
    value_errors = {kind.__name__ for kind in _tree_classes() if ValueError in kind.__bases__}
    assert starred == value_errors == {"TemplateProblem", "InputError"}


def _exception_classes(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and (base.id.endswith(("Error", "Exception")) or base.id in dir(errors))
                for base in node.bases):
            yield node.name


def test_every_public_error_is_defined_in_the_tree_module():
    """Private ones (`_Failed`) steer a retry loop inside one module and never leave it."""
    outside = [f"{path.relative_to(ROOT)}: {name}" for folder in SERVICE_FOLDERS for path in sorted((ROOT / folder).glob("*.py"))
               if path.name != "errors.py" for name in _exception_classes(path) if not name.startswith("_")]
    assert outside == []


@pytest.mark.parametrize("kind", _tree_classes(), ids=lambda kind: kind.__name__)
def test_every_class_of_the_tree_has_its_exit_status(kind):
    """1: the same run may pass later; 2: something must be fixed first."""
    later = (errors.JiraUnavailable, errors.CallFailed, errors.NotifyFailed, errors.Busy)
    fixed_first = (errors.JiraRefused, errors.SetUpError, errors.InputError, errors.StoreUnavailable)
    if kind is errors.AutomationError:
        return
    covered = [status for base, status in EXIT_STATUS if issubclass(kind, base)]
    assert covered, f"{kind.__name__} has no exit status"
    expected = BAD_INPUT if issubclass(kind, fixed_first) else SOME_FAILED if issubclass(kind, later) else None
    assert covered[0] == expected


def _samples() -> list[tuple[errors.AutomationError, int]]:
    return [
        (errors.JiraRefused("DELETE", "/rest/webhooks/1.0/webhook/7", 404, "no webhook 7"), BAD_INPUT),
        (errors.ScreenFieldsMissing("POST", "/rest/api/2/issue/SD-4/transitions", 400, "Resolution is required"), BAD_INPUT),
        (errors.JiraUnavailable("GET", "/rest/api/2/search", 503, "Service Unavailable"), SOME_FAILED),
        (errors.JiraAmbiguous("POST", "/rest/api/2/issue", None, "ReadTimeout"), SOME_FAILED),
        (errors.AlertFailed("POST", "https://oncall.example/hook", 500, "down"), SOME_FAILED),
        (errors.TicketBusy("SD-3 is being handled elsewhere", "SD-3"), SOME_FAILED),
        (errors.DeliveryUncertain("run again in 30 s", 30), SOME_FAILED),
        (errors.StoreNotWritable("cannot write the store at /srv/x.db", "/srv/x.db"), BAD_INPUT),
        (errors.CredentialsError("set JIRA_URL in the environment", ("JIRA_URL",)), BAD_INPUT),
        (errors.IssueMappingError("SD-9", "fields.status", "missing"), BAD_INPUT),
    ]


@pytest.mark.parametrize(("error", "status"), _samples(), ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "")
def test_a_command_ends_with_one_line_naming_it_and_the_status_of_its_error(error, status):
    @click.group(cls=AutomationGroup)
    def tool() -> None:
        pass

    @tool.group()
    def webhook() -> None:
        pass

    @webhook.command("delete")
    def delete() -> None:
        raise error

    result = CliRunner().invoke(tool, ["webhook", "delete"])
    assert (result.exit_code, result.stdout, result.stderr) == (status, "", f"webhook delete: {error}\n")
    assert exit_status(error) == status


def test_app_yaml_problems_are_one_line_each_naming_the_key():
    @click.group(cls=AutomationGroup)
    def tool() -> None:
        pass

    @tool.command()
    def check() -> None:
        raise errors.SettingsError("app.yaml", ["hours.window: not a time range", "statuses.resolved: empty"])

    result = CliRunner().invoke(tool, ["check"])
    assert result.exit_code == BAD_INPUT
    assert result.stderr == "app.yaml: 2 problem(s)\n  hours.window: not a time range\n  statuses.resolved: empty\n"


def test_errors_carry_what_their_callers_need():
    assert errors.JiraRefused("POST", "/rest/api/2/issue/SD-12/transitions", 400, "x").issue == "SD-12"
    assert errors.JiraRefused("GET", "/rest/api/2/issue/SD-12?fields=status", 404, "x").issue == "SD-12"
    assert errors.JiraUnavailable("GET", "/rest/api/2/search", 503, "x").issue is None
    assert errors.JiraRefused("POST", "issue/SD-7/transitions", 400, "x").issue == "SD-7"  # as the executor writes paths
    assert errors.JiraRefused("GET", "/rest/api/2/myissue/SD-7", 404, "x").issue is None
    assert errors.JiraRefused("GET", "/rest/api/2/issue/SD-12", 404, "gone").status == 404
    assert errors.SettingsError("app.yaml", ["hours.window: not a time range", "no rule named x",
                                             "fields.organizations: required"]).keys == ["hours.window", "fields.organizations"]
    assert errors.CallFailed.concerns_jira is False and errors.JiraError.concerns_jira is True
    assert not errors.AlertFailed("POST", "", None, "x").concerns_jira
    assert str(errors.AlertFailed("POST", "https://o.example/h", 502, "bad gateway")) == \
        "on-call channel https://o.example/h: answered 502: bad gateway"


def test_the_real_cli_uses_the_tree_group():
    from jsm_autopilot.cli.main import main

    assert isinstance(main, AutomationGroup)
    import jsm_autopilot.cli.live  # noqa: F401  (registers webhook)

    assert isinstance(main.commands["webhook"], AutomationGroup)
