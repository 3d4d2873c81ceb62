"""What a customer wrote now, without the history an e-mail reply carries along.

The guide invites replies by e-mail (2.6), and Jira keeps such a comment whole: the new text, then
the quoted thread ("On ... wrote:", "Am ... schrieb", "-----Original Message-----", Outlook's
From/Sent/To/Subject block) and a signature. A "you can close the ticket" quoted from an agent's
earlier comment is not the customer's word now. mail-parser-reply, a maintained parser of reply
shapes in English and German among others, finds where the new text ends; the rest here is what
it leaves: "> " quote lines, and the marker Jira's own notification e-mails put above the thread.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Jira Service Management's notification e-mails: "Reply above this line." (English and German).
JIRA_REPLY_MARKER = re.compile(r"^\W*(reply above this line|bitte (nur )?oberhalb dieser (zeile|linie) antworten)\b",
                               re.IGNORECASE | re.MULTILINE)
QUOTE_LINE = re.compile(r"^[ \t]*>.*$", re.MULTILINE)


@lru_cache(maxsize=1)
def _parser():
    from mailparser_reply import EmailReplyParser  # compiled once, where comments are read

    return EmailReplyParser(languages=["en", "de"])


def written_now(text: str) -> str:
    """The newest part of a comment: quoted history, Jira's reply marker and signatures removed.
    Text that has none of these comes back unchanged (but for surrounding blank space)."""
    marker = JIRA_REPLY_MARKER.search(text)
    if marker is not None:
        text = text[:marker.start()]
    replies = _parser().read(text=text).replies
    newest = replies[0].body if replies else text
    newest = QUOTE_LINE.sub("", newest)
    return re.sub(r"\n{3,}", "\n\n", newest).strip() or text.strip()
