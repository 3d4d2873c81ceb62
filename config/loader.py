"""Load app.yaml into `Settings`, reporting every problem with the key path it sits at."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import ValidationError

from jsm_autopilot.config.calendars import dates_from_ics
from jsm_autopilot.config.settings import Settings
from jsm_autopilot.config.texts import Texts
from jsm_autopilot.errors import SettingsError, TemplateProblem

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

CONFIG_ENVIRONMENT_VARIABLE = "JSM_AUTOPILOT_CONFIG"
SECRET_WORDS = ("token", "password", "secret", "pat", "api_key", "apikey")


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENVIRONMENT_VARIABLE) or "app.yaml")


def _key_path(location: tuple) -> str:
    return ".".join(str(part) for part in location) or "(top level)"


def _secret_keys(data: object, prefix: tuple = ()) -> list[str]:
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            path = prefix + (key,)
            if isinstance(key, str) and any(word == key.lower() or key.lower().endswith("_" + word) for word in SECRET_WORDS):
                found.append(
                    f"{_key_path(path)}: secrets do not belong in app.yaml; set JIRA_API_TOKEN "
                    "(or JIRA_PAT, JSM_AUTOPILOT_WEBHOOK_SECRET) in the environment"
                )
            found.extend(_secret_keys(value, path))
    return found


# What a missing section or key is, in the words of the admin who has to write it.
REQUIRED = {
    "automation.account": "the automation's accountId on Cloud, its user name on Data Center",
    "fields": "the custom field ids of your site, as in the shipped app.yaml; `doctor` checks them",
    "confirmation": "the phrases that confirm a solution; copy them from the shipped app.yaml",
    "project": "project.key and project.timezone",
    "project.key": "your JSM project's key, like SD",
}
CLOCK_KEYS = ("full_pass_at", "start", "end")


def _message(location: tuple, detail: ErrorDetails) -> str:
    """pydantic's wording, turned into what to write."""
    kind, given, key = detail["type"], detail.get("input"), str(location[-1]) if location else ""
    if kind == "extra_forbidden":
        return "unknown setting (check the spelling against docs/settings.md)"
    if kind == "missing":
        what = REQUIRED.get(_key_path(location))
        return f"required ({what})" if what else "required"
    if key in CLOCK_KEYS and isinstance(given, int) and not isinstance(given, bool):
        # YAML reads 3:00 as the number 180 (minutes in base 60): the time has to be a string.
        return f'write it in quotes: "{given // 60:02d}:{given % 60:02d}"'
    if key in CLOCK_KEYS and kind == "string_pattern_mismatch":
        return f'expected HH:MM, like "03:00", got {given!r}'
    if key == "key" and location[:1] == ("project",) and kind == "string_pattern_mismatch":
        return f"an upper-case Jira project key like SD, got {given!r}"
    message = detail["msg"]
    return message[len("Value error, "):] if message.startswith("Value error, ") else message


def _problems_from(error: ValidationError) -> list[str]:
    problems = []
    for detail in error.errors(include_url=False):
        location = tuple(part for part in detail["loc"] if not str(part).startswith("function-"))
        problems.append(f"{_key_path(location)}: {_message(location, detail)}")
    return problems


def settings_from_mapping(data: object, source: str = "app.yaml", base_directory: Path | None = None) -> Settings:
    if not isinstance(data, dict):
        raise SettingsError(source, ["(top level): expected a mapping of settings"])
    problems = _secret_keys(data)
    if problems:
        raise SettingsError(source, problems)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as error:
        raise SettingsError(source, _problems_from(error)) from None
    regions = {}
    for name, region in settings.regions.items():
        if region.holidays_ics is None:
            continue
        path = (base_directory or Path.cwd()) / region.holidays_ics
        try:
            days = dates_from_ics(path)
        except (OSError, ValueError) as error:
            raise SettingsError(source, [f"regions.{name}.holidays_ics: cannot read {path} as iCalendar: {error}"]) from None
        regions[name] = region.model_copy(update={"extra_holidays": sorted(set(region.extra_holidays) | days)})
    if regions:
        settings = settings.model_copy(update={"regions": {**settings.regions, **regions}})
    directory = settings.templates.directory
    try:
        if directory is None:
            texts = Texts.shipped()
        else:
            texts = Texts.load((base_directory or Path.cwd()) / directory)
    except TemplateProblem as problem:
        raise SettingsError(source, [f"templates.directory: {problem}"]) from None
    return settings.model_copy(update={"texts": texts})


def load_settings(path: Path | str | None = None) -> Settings:
    """Read and validate app.yaml; raise `SettingsError` naming every bad key."""
    config_path = Path(path) if path is not None else default_config_path()
    source = str(config_path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as error:
        raise SettingsError(source, [f"(file): cannot read it: {error.strerror or error}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(error, "problem", None) or str(error)
        raise SettingsError(source, [f"{where}: not valid YAML: {problem}"]) from None
    return settings_from_mapping(data, source, config_path.resolve().parent)
