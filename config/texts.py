"""Customer-facing comment templates, in English and German, that admins can reword.

The shipped wording lives in `config/templates/<language>/<name>.txt`; a directory named by
`templates.directory` in app.yaml overrides any of those files. Templates are Jinja2, rendered in a
sandbox with undefined variables as errors, so a typo in a template fails `check`, not a customer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from babel.dates import format_date
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from jsm_autopilot.errors import TemplateProblem

LANGUAGES = ("en", "de")
# Each name, and the variables the rules pass to it (documented in docs/settings.md, "Customer-facing wording").
TEMPLATE_VARIABLES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "clarification_reminder": ("key", "reminder_number", "reminders_total", "days_waiting", "close_date"),
        "clarification_close": ("key", "days_waiting", "reminders_total"),
        "resolved_close": ("key", "days_resolved"),
        "resolved_confirmed": ("key",),
        "reclassify_suggestion": ("key",),
        "reclassify_consulting": ("key",),
        # The Delivery ticket (the customer sees it in the portal) and what it tells the tickets.
        "delivery_summary": ("version",),
        "delivery_heading": (),
        "delivery_columns": (),
        "delivery_withheld": (),  # in the table, instead of a confidential ticket's summary
        "delivery_date_changed": ("key", "version", "old_date", "new_date"),
        # Resolved (or, for a Customisation, Closed) once the delivery has taken place (3.1, 3.5, 3.7).
        "delivery_done": ("key", "version", "delivery", "close_after_days"),
        # The same at Stage installation completed: installed on staging, to be tested there.
        "delivery_done_staging": ("key", "version", "delivery", "close_after_days"),
        "delivery_closed": ("key", "version", "delivery"),
        "delivery_available": ("key", "version"),
        "delivery_maintenance": ("key", "version", "maintenance_at"),
        "oncall_alerted": ("key",),
    }
)
# Every template may also name the site's status names (app.yaml `statuses`), so a customer reads
# the status their portal shows, never a name written into the wording.
COMMON_VARIABLES = ("resolved_status", "closed_status", "desk")
SHIPPED_DIRECTORY = Path(__file__).parent / "templates"


# Numbers under ten are written out in letters ("three reminders", "drei Erinnerungen").
SPELLED = {"en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
           "de": ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun")}
ORDINALS = {"en": ("", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"),
            "de": ("", "erste", "zweite", "dritte", "vierte", "fünfte", "sechste", "siebte", "achte", "neunte")}


def _spelled(value: int, language: str) -> str:
    """A count as a reader expects it: in letters under ten, else in digits. German counts before a
    noun ("ein Tag" is not needed: the templates count reminders and days, never one of them)."""
    return SPELLED[language][value] if 0 <= value < 10 else str(value)


def _ordinal(value: int, language: str) -> str:
    if 1 <= value < 10:
        return ORDINALS[language][value]
    return f"{value}." if language == "de" else f"{value}{'th' if 10 <= value % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(value % 10, 'th')}"


# British English for dates ("20 December 2026"): the customers are European and Australian.
BABEL_LOCALES = {"en": "en_GB", "de": "de_DE"}


def _localised_date(value: date | datetime, language: str) -> str:
    return format_date(value, format="long", locale=BABEL_LOCALES.get(language, language))


# German readers know Central European time as MEZ and MESZ, not CET and CEST.
GERMAN_ZONE_NAMES = {"CET": "MEZ", "CEST": "MESZ"}


def _localised_datetime(value: datetime, language: str) -> str:
    """"5 December 2026, 22:00 CET" / "5. Dezember 2026, 22:00 Uhr MEZ", in the zone the rule gave."""
    clock = value.strftime("%H:%M") + (" Uhr" if language == "de" else "")
    zone = value.strftime("%Z")
    if language == "de":
        zone = GERMAN_ZONE_NAMES.get(zone, zone)
    return f"{_localised_date(value, language)}, {clock} {zone}".strip()


@dataclass(frozen=True)
class Texts:
    sources: Mapping[tuple[str, str], str]
    # Jinja environments per language and compiled templates per (language, name), made on first use.
    _environments: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def shipped(cls) -> "Texts":
        return cls.load(None)

    @classmethod
    def load(cls, override_directory: Path | None) -> "Texts":
        """Read every template, taking the admin's copy where one exists; raise on the first problem."""
        if override_directory is not None and not override_directory.is_dir():
            raise TemplateProblem(str(override_directory), "is not a directory")
        sources: dict[tuple[str, str], str] = {}
        for language in LANGUAGES:
            for name in TEMPLATE_VARIABLES:
                relative = Path(language) / f"{name}.txt"
                chosen = SHIPPED_DIRECTORY / relative
                if override_directory is not None and (override_directory / relative).is_file():
                    chosen = override_directory / relative
                if not chosen.is_file():
                    raise TemplateProblem(str(chosen), "missing")
                sources[(language, name)] = chosen.read_text(encoding="utf-8")
        texts = cls(MappingProxyType(sources))
        texts.validate()
        return texts

    def _environment(self, language: str) -> ImmutableSandboxedEnvironment:
        env = self._environments.get(language)
        if env is None:
            env = ImmutableSandboxedEnvironment(
                undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
            )
            env.filters["date"] = lambda value: _localised_date(value, language)
            env.filters["datetime"] = lambda value: _localised_datetime(value, language)
            env.filters["spelled"] = lambda value: _spelled(int(value), language)
            env.filters["ordinal"] = lambda value: _ordinal(int(value), language)
            self._environments[language] = env
        return env

    def validate(self) -> None:
        """Compile and trial-render every template with sample values."""
        sample = {
            "key": "SD-1",
            "reminder_number": 1,
            "reminders_total": 3,
            "days_waiting": 10,
            "days_resolved": 50,
            "close_date": date(2026, 1, 31),
            "version": "14.21.3.1",
            "old_date": date(2026, 12, 1),
            "new_date": date(2026, 12, 15),
            "delivery": "SD-9",
            "close_after_days": 50,
            "maintenance_at": datetime(2026, 12, 5, 22, 0),
            "resolved_status": "Resolved",
            "closed_status": "Closed",
            "desk": "imc Service Desk",
        }
        for (language, name), source in self.sources.items():
            variables = {k: sample[k] for k in TEMPLATE_VARIABLES[name] + COMMON_VARIABLES}
            try:
                self._environment(language).from_string(source).render(variables)
            except TemplateError as error:
                line = getattr(error, "lineno", None)
                where = f"{language}/{name}.txt" + (f" line {line}" if line else "")
                raise TemplateProblem(where, str(error)) from error
            if name == "delivery_columns" and len(self.render(language, name).split("|")) != 3:
                raise TemplateProblem(f"{language}/{name}.txt", "needs three column titles separated by | (key, type, summary)")

    def render(self, language: str, name: str, **variables: object) -> str:
        compiled = self._environments.get((language, name))
        if compiled is None:
            compiled = self._environment(language).from_string(self.sources[(language, name)])
            self._environments[(language, name)] = compiled
        return compiled.render(variables).strip()
