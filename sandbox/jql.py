"""The JQL subset the sandbox understands: the clauses jsm-autopilot sends, parsed properly.

Grammar: clauses `field op value` joined with AND, OR, NOT and parentheses, then ORDER BY.
Operators: = != IN, NOT IN, IS [NOT] EMPTY, ~ (contains), < <= > >=. Fields: project, key,
status, issuetype (type), priority, reporter, summary, created, updated, resolution,
request-channel-type, Organizations, cf[NNNNN] and customfield_NNNNN. Unknown fields and
syntax errors are refused with 400 and Jira's wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from jsm_autopilot.sandbox.state import SandboxError, StoredIssue

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>!=|>=|<=|=|>|<|~|\(|\)|,)
      | (?P<word>[A-Za-z0-9_.\-\[\]/:@+]+)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"}

Predicate = Callable[[StoredIssue], bool]


@dataclass(frozen=True)
class Token:
    kind: str  # string | op | word
    text: str

    def keyword(self) -> str | None:
        return self.text.lower() if self.kind == "word" and self.text.lower() in KEYWORDS else None


def _tokens(jql: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(jql):
        if jql[position:].strip() == "":
            break
        match = _TOKEN.match(jql, position)
        if not match or match.end() == position:
            raise SandboxError(400, f"Error in the JQL Query: The character '{jql[position:].strip()[0]}' is a reserved JQL character.")
        kind = match.lastgroup
        text = match.group(kind)
        if kind == "string":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        tokens.append(Token(kind, text))
        position = match.end()
    return tokens


@dataclass(frozen=True)
class Query:
    matches: Predicate
    order: list[tuple[str, bool]]  # (field, descending)


class _Parser:
    def __init__(self, tokens: list[Token], field_value: Callable[[StoredIssue, str], Any]):
        self.tokens = tokens
        self.position = 0
        self.field_value = field_value

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise SandboxError(400, "Error in the JQL Query: Expecting either a value, list or function but got end of query.")
        self.position += 1
        return token

    def expect_keyword(self, word: str) -> None:
        token = self.take()
        if token.keyword() != word:
            raise SandboxError(400, f"Error in the JQL Query: Expecting '{word.upper()}' but got '{token.text}'.")

    def query(self) -> Query:
        matches: Predicate = _every_issue
        if self.peek() is not None and self.peek().keyword() != "order":
            matches = self.or_expression()
        order: list[tuple[str, bool]] = []
        if self.peek() is not None and self.peek().keyword() == "order":
            self.take()
            self.expect_keyword("by")
            while True:
                field = self.take().text.lower()
                descending = False
                if self.peek() is not None and self.peek().keyword() in ("asc", "desc"):
                    descending = self.take().keyword() == "desc"
                order.append((field, descending))
                if self.peek() is None or self.peek().text != ",":
                    break
                self.take()
        if self.peek() is not None:
            raise SandboxError(400, f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{self.peek().text}'.")
        return Query(matches, order)

    def or_expression(self) -> Predicate:
        parts = [self.and_expression()]
        while self.peek() is not None and self.peek().keyword() == "or":
            self.take()
            parts.append(self.and_expression())
        return parts[0] if len(parts) == 1 else (lambda issue: any(p(issue) for p in parts))

    def and_expression(self) -> Predicate:
        parts = [self.not_expression()]
        while self.peek() is not None and self.peek().keyword() == "and":
            self.take()
            parts.append(self.not_expression())
        return parts[0] if len(parts) == 1 else (lambda issue: all(p(issue) for p in parts))

    def not_expression(self) -> Predicate:
        if self.peek() is not None and self.peek().keyword() == "not":
            self.take()
            inner = self.not_expression()
            return lambda issue: not inner(issue)
        if self.peek() is not None and self.peek().text == "(" and self.peek().kind == "op":
            self.take()
            inner = self.or_expression()
            if self.take().text != ")":
                raise SandboxError(400, "Error in the JQL Query: Expecting ')'.")
            return inner
        return self.clause()

    def value_list(self) -> list[str]:
        if self.take().text != "(":
            raise SandboxError(400, "Error in the JQL Query: Expecting '(' after IN.")
        values = []
        while True:
            values.append(self.take().text)
            token = self.take()
            if token.text == ")":
                return values
            if token.text != ",":
                raise SandboxError(400, f"Error in the JQL Query: Expecting ',' or ')' but got '{token.text}'.")

    def clause(self) -> Predicate:
        field = self.take().text
        self.field_value(None, field)  # refuses unknown fields before any issue is looked at
        operator = self.take()
        word = operator.keyword()
        if word == "is":
            negate = self.peek() is not None and self.peek().keyword() == "not"
            if negate:
                self.take()
            if self.take().keyword() not in ("empty", "null"):
                raise SandboxError(400, "Error in the JQL Query: Expecting EMPTY or NULL after IS.")
            return lambda issue: _is_empty(self.field_value(issue, field)) != negate
        if word == "not":
            self.expect_keyword("in")
            values = self.value_list()
            return lambda issue: not _equals_any(self.field_value(issue, field), values)
        if word == "in":
            values = self.value_list()
            return lambda issue: _equals_any(self.field_value(issue, field), values)
        value = self.take().text
        symbol = operator.text
        if symbol == "=":
            return lambda issue: _equals_any(self.field_value(issue, field), [value])
        if symbol == "!=":
            return lambda issue: not _equals_any(self.field_value(issue, field), [value])
        if symbol == "~":
            return lambda issue: value.lower() in str(self.field_value(issue, field) or "").lower()
        if symbol in ("<", "<=", ">", ">="):
            bound = _jql_date(value)
            compare = {"<": lambda a: a < bound, "<=": lambda a: a <= bound, ">": lambda a: a > bound, ">=": lambda a: a >= bound}[symbol]
            return lambda issue: (v := self.field_value(issue, field)) is not None and compare(v)
        raise SandboxError(400, f"Error in the JQL Query: The operator '{symbol}' is not supported.")


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def _equals_any(value: Any, wanted: list[str]) -> bool:
    candidates = value if isinstance(value, (list, tuple)) else [value]
    folded = {w.lower() for w in wanted}
    return any(c is not None and str(c).lower() in folded for c in candidates)


def _jql_date(text: str) -> datetime:
    for pattern in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise SandboxError(400, f"Error in the JQL Query: Date value '{text}' is invalid.")


def parse(jql: str, field_value: Callable[[StoredIssue | None, str], Any]) -> Query:
    """Parse `jql`; `field_value(issue, name)` reads a field and raises for unknown names."""
    return _Parser(_tokens(jql or ""), field_value).query()


def _every_issue(issue) -> bool:
    """An empty JQL (or only ORDER BY) matches every issue."""
    return True
