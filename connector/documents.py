"""Comment bodies as each API version wants them: ADF on Cloud v3, wiki-markup strings on v2."""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo

from jsm_autopilot.rules.actions import Table


def adf_document(text: str) -> dict:
    """Paragraphs at blank lines, line breaks inside a paragraph kept as hardBreak."""
    paragraphs = [p for p in text.strip().split("\n\n") if p.strip()]
    content = []
    for paragraph in paragraphs:
        nodes: list[dict] = []
        for index, line in enumerate(paragraph.split("\n")):
            if index:
                nodes.append({"type": "hardBreak"})
            if line:
                nodes.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": nodes})
    return {"type": "doc", "version": 1, "content": content}


def document(text: str, api_version: str, mentions: tuple[str, ...] = ()) -> dict | str:
    """Our texts are plain; wiki markup needs no escaping for them except its own markers, which
    templates do not use. Mentions close the text: ADF mention nodes on Cloud (accountIds),
    `[~name]` on Data Center (user names); both notify the person."""
    if api_version != "3":
        return text.strip() + ("\n\n" + " ".join(f"[~{name}]" for name in mentions) if mentions else "")
    body = adf_document(text)
    if mentions:
        nodes: list[dict] = []
        for account in mentions:
            nodes += [{"type": "mention", "attrs": {"id": account}}, {"type": "text", "text": " "}]
        body["content"].append({"type": "paragraph", "content": nodes})
    return body


# Characters wiki markup reads as table syntax, links, macros or emphasis; a summary may contain any
# of them. Not "-": issue keys must stay keys (Jira links them), and a lone dash is plain text.
_WIKI_SPECIAL = re.compile(r"([\\|\[\]{}*_^~+?!#])")


def _wiki_cell(text: str) -> str:
    flat = " ".join(text.split())  # a line break would end the row
    return _WIKI_SPECIAL.sub(r"\\\1", flat) or " "


def _adf_cell(kind: str, text: str) -> dict:
    flat = " ".join(text.split())
    paragraph = {"type": "paragraph", "content": [{"type": "text", "text": flat}] if flat else []}
    return {"type": kind, "attrs": {}, "content": [paragraph]}


def table_document(table: Table, api_version: str) -> dict | str:
    """A heading paragraph and a table: ADF on Cloud v3, wiki markup (`||head||` rows) on v2."""
    if api_version == "3":
        rows = [{"type": "tableRow", "content": [_adf_cell("tableHeader", c) for c in table.columns]}]
        rows += [{"type": "tableRow", "content": [_adf_cell("tableCell", c) for c in row]} for row in table.rows]
        return {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": table.heading}]},
            {"type": "table", "attrs": {"isNumberColumnEnabled": False, "layout": "default"}, "content": rows},
        ]}
    lines = [table.heading, "",
             "||" + "||".join(_wiki_cell(c) for c in table.columns) + "||"]
    lines += ["|" + "|".join(_wiki_cell(c) for c in row) + "|" for row in table.rows]
    return "\n".join(lines)


def jira_datetime(instant: datetime) -> str:
    """Jira's own date-time format, `2023-03-23T07:45:29.056+0200`: it refuses Python's isoformat
    (six-digit fraction, colon in the offset) with a 400 (pycontribs/jira#1358, mojira/arisa-kt#27)."""
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}" + instant.strftime("%z")


def field_value(value: object, api_version: str, schema_type: str | None = None, timezone: tzinfo | None = None) -> object:
    """A core value as Jira takes it in `fields`: tables become documents; a moment or a day is
    written as the field's schema type (`datetime` or `date`, from GET /field) asks; the rest stays.
    A moment written to a date field is the day it falls on in `timezone` (the site's)."""
    if isinstance(value, Table):
        return table_document(value, api_version)
    if isinstance(value, datetime):
        if schema_type == "date":
            return (value.astimezone(timezone) if timezone is not None else value).date().isoformat()
        return jira_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
