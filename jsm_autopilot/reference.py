"""The docs' reference, generated from the code so that it cannot drift (docs/gen_reference.py
writes it at build time): every `app.yaml` key from the settings models and the comments beside
their fields, every rule from the catalogue with its texts, every environment variable."""

from __future__ import annotations

import inspect
import io
import re
import tokenize
import typing
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel

# Markdown tables: a pipe in a cell would end it.
_PIPE = re.compile(r"\|")


@dataclass(frozen=True)
class SettingKey:
    path: str  # "timers.clarification.reminder_every"; "<name>" stands for a key the site chooses
    type: str
    default: str
    meaning: str


def _cell(text: str) -> str:
    return _PIPE.sub("\\|", " ".join(text.split()))


@lru_cache(maxsize=None)
def field_comments(model: type) -> dict[str, str]:
    """The comment lines right above each field of a class body, and one on the field's own line."""
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    comments: dict[str, str] = {}
    pending: list[str] = []
    field_line = re.compile(r"^\s{4}([a-z_][a-z0-9_]*)\s*:")
    lines = source.splitlines()
    trailing = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and lines[token.start[0] - 1].strip() != token.string.strip():
            trailing[token.start[0]] = token.string.lstrip("# ").strip()
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("#") and line.startswith("    ") and not line.startswith("        "):
            pending.append(stripped.lstrip("# ").strip())
            continue
        found = field_line.match(line)
        if found:
            said = " ".join(pending + ([trailing[number]] if number in trailing else []))
            if said:
                comments[found.group(1)] = said
        if stripped:
            pending = []
    return comments


def _type_name(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " or ".join(_type_name(arg) for arg in typing.get_args(annotation))
    if origin is typing.Literal:
        return " \\| ".join(repr(arg) for arg in typing.get_args(annotation))
    if origin in (list, tuple, set, frozenset):
        args = typing.get_args(annotation)
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"map of {_type_name(key)} to {_type_name(value)}"
    if annotation is type(None):
        return "null"
    name = getattr(annotation, "__name__", None) or str(annotation)
    return {"str": "text", "int": "whole number", "float": "number", "bool": "true or false", "Duration": "duration"}.get(name, name)


def _default(field) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(the keys below)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value in ({}, []):
        return "none"
    return f"`{value}`"


def _models_in(annotation: object) -> list[tuple[str, type[BaseModel]]]:
    """The settings models an annotation holds, with the path part they add ("" or ".<name>")."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("", annotation)]
    if origin is dict:
        return [(".<name>" + suffix, model) for suffix, model in _models_in(typing.get_args(annotation)[1])]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return [found for arg in typing.get_args(annotation) for found in _models_in(arg)]
    return []


def setting_keys(model: type[BaseModel] | None = None, prefix: str = "") -> list[SettingKey]:
    """Every key of app.yaml, depth first in the models' order."""
    if model is None:
        from jsm_autopilot.config.settings import Settings

        model = Settings
    comments = field_comments(model)
    found: list[SettingKey] = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue  # not a setting (the texts, loaded from templates/)
        path = f"{prefix}{name}"
        meaning = comments.get(name) or _named_by_role(model, name)
        nested = _models_in(field.annotation)
        if nested and not meaning:
            own = nested[0][1].__dict__.get("__doc__")  # the section's own docstring, not BaseModel's
            meaning = inspect.cleandoc(own).split("\n\n")[0] if own else ""
        found.append(SettingKey(path, _type_name(field.annotation), _default(field), meaning))
        for suffix, inner in nested:
            found.extend(setting_keys(inner, f"{path}{suffix}."))
    return found


# Sections that only map the guide's roles to this site's names: a field's meaning is its role.
_ROLE_KINDS = {"Statuses": "status", "IssueTypes": "issue type", "Priorities": "priority", "Fields": "field (its id)"}


def _named_by_role(model: type, name: str) -> str:
    kind = _ROLE_KINDS.get(model.__name__)
    return f"the {kind} for \"{name.replace('_', ' ')}\" on this site" if kind else ""


def settings_page() -> str:
    lines = ["# `app.yaml` reference", "",
             "Generated from the settings models (`config/settings.py` and the modules it uses) when the docs are built. "
             "`<name>` stands for a name the site chooses (an organisation, a region). Durations are written like `10d`, "
             "`2w`, `12h`, `30m`.", "", "| key | type | default | meaning |", "|---|---|---|---|"]
    for key in setting_keys():
        lines.append(f"| `{key.path}` | {_cell(key.type)} | {_cell(key.default)} | {_cell(key.meaning)} |")
    return "\n".join(lines) + "\n"


def rules_page() -> str:
    from jsm_autopilot.config.loader import default_config_path, load_settings
    from jsm_autopilot.rules.catalogue import RULES

    shipped = load_settings(default_config_path()) if default_config_path().exists() else None
    lines = ["# Rules", "", "Generated from the catalogue (`rules/catalogue.py`) when the docs are built; \"on this site\" is what "
             "`jsm-autopilot check` prints for the shipped `app.yaml`.", ""]
    for rule in RULES:
        lines += [f"## `{rule.id}`", "", f"- **Guide:** {rule.chapter}", f"- **What it does:** {rule.summary}"]
        if not rule.implemented:
            lines.append("- **State:** planned in PROCESS.md, not implemented yet")
        elif shipped is not None and rule.describe is not None:
            lines.append(f"- **On the shipped app.yaml:** {rule.describe(shipped)}")
        for name in rule_templates(rule.id):
            lines += _template_block(name)
        lines.append("")
    lines += ["## Texts of the Delivery ticket", "", "Written by `delivery.create` and `delivery.refresh`."]
    for name in ("delivery_summary", "delivery_heading", "delivery_columns", "delivery_withheld", "delivery_closed"):
        lines += _template_block(name)
    return "\n".join(lines) + "\n"


def _template_block(name: str) -> list[str]:
    from jsm_autopilot.config.texts import Texts

    sources = Texts.shipped().sources
    block = [""]
    for language in ("en", "de"):
        text = sources.get((language, name))
        if text is not None:
            block += [f'??? note "`{name}` ({language})"', "", "    ```jinja"]
            block += [f"    {line}" for line in text.rstrip().splitlines()]
            block += ["    ```", ""]
    return block


def rule_templates(rule_id: str) -> list[str]:
    """The shipped templates named after the rule (clarification.reminder -> clarification_reminder,
    delivery.done -> delivery_done and delivery_done_staging)."""
    from jsm_autopilot.config.texts import Texts

    stem = rule_id.replace(".", "_")
    return sorted({name for language, name in Texts.shipped().sources if language == "en" and name.startswith(stem)})


def environment_page() -> str:
    from jsm_autopilot.config.environment import ENVIRONMENT_VARIABLES

    lines = ["# Environment variables", "", "Secrets and addresses come from the environment, never from `app.yaml`. "
             "Generated from `config/environment.py` when the docs are built.", "", "| variable | for |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in ENVIRONMENT_VARIABLES.items()]
    return "\n".join(lines) + "\n"


def cli_page() -> str:
    return "\n".join([
        "# Commands", "", "Generated from the command-line interface itself (click) when the docs are built. "
        "Exit statuses: 0 done; 1 something failed that the same run may get past later (Jira away, a lock held); "
        "2 something must be fixed first (app.yaml, the environment, a flag, a request Jira refuses).", "",
        "::: mkdocs-click", "    :module: jsm_autopilot.cli.commands", "    :command: cli", "    :prog_name: jsm-autopilot",
        "    :depth: 1", "    :style: plain", "    :list_subcommands: true", ""])


def endpoints_page() -> str:
    """Every route of `serve`'s HTTP server, read from a service built with the console on."""
    import tempfile

    from jsm_autopilot.config.environment import JiraCredentials
    from jsm_autopilot.config.loader import default_config_path, load_settings
    from jsm_autopilot.config.settings import ConsoleSettings
    from jsm_autopilot.connector.client import JiraClient
    from jsm_autopilot.service.serve import Service
    from jsm_autopilot.store.event_store import EventStore

    settings = load_settings(default_config_path())
    settings = settings.model_copy(update={"console": ConsoleSettings(enabled=True, sign_in="token")})
    lines = ["# HTTP endpoints", "", "What `jsm-autopilot serve` answers, generated from its routes when the docs are built "
             "(with the console on; without `console.enabled` the `/console/` routes do not exist). Only `/webhooks/jira`, "
             "`/api/deliveries` and `/console/` belong behind the public proxy.", "",
             "| path | methods | what |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as folder:
        store = EventStore(f"sqlite:///{folder}/reference.db")
        store.migrate()
        client = JiraClient(JiraCredentials("http://127.0.0.1:9", "reference@example.com", "-"), settings.project.deployment)
        service = Service(settings, store, client, b"-", console_environ={"JSM_AUTOPILOT_CONSOLE_SESSION_KEY": "r" * 40})
        try:
            for rule in sorted(service.app.url_map.iter_rules(), key=lambda r: (r.rule, sorted(r.methods or ()))):
                view = service.app.view_functions[rule.endpoint]
                what = (inspect.getdoc(view) or "").split("\n\n")[0]
                if rule.endpoint.endswith("static"):
                    what = "The console's stylesheet, scripts and their licences (console/static/)."
                methods = ", ".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
                lines.append(f"| `{rule.rule}` | {methods} | {_cell(what)} |")
        finally:
            store.dispose()
    return "\n".join(lines) + "\n"


def guide_map_page() -> str:
    """The service desk guide's chapters to rule ids, and back."""
    from jsm_autopilot.rules.catalogue import RULES

    by_chapter: dict[str, list[str]] = {}
    for rule in RULES:
        for chapter in (part.strip() for part in rule.chapter.split(",")):
            by_chapter.setdefault(chapter, []).append(rule.id)

    def order(chapter: str) -> tuple:
        return tuple(int(part) if part.isdigit() else 0 for part in re.split(r"[.\s]", chapter))

    lines = ["# The guide and the rules", "", "Which rules carry out each chapter of the service desk guide, and the chapter of "
             "each rule; generated from the catalogue when the docs are built. A rule marked *(planned)* is not built yet.", "",
             "## By chapter", "", "| chapter | rules |", "|---|---|"]
    planned = {rule.id for rule in RULES if not rule.implemented}
    for chapter in sorted(by_chapter, key=order):
        named = ", ".join(f"`{rule_id}`" + (" *(planned)*" if rule_id in planned else "") for rule_id in by_chapter[chapter])
        lines.append(f"| {chapter} | {named} |")
    lines += ["", "## By rule", "", "| rule | chapter | what it does |", "|---|---|---|"]
    lines += [f"| `{rule.id}` | {rule.chapter} | {_cell(rule.summary)} |" for rule in RULES]
    return "\n".join(lines) + "\n"
