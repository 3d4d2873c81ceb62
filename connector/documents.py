"""Comment bodies as each API version wants them: ADF on Cloud v3, wiki-markup strings on v2."""

from __future__ import annotations


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


def document(text: str, api_version: str) -> dict | str:
    # Our texts are plain; wiki markup needs no escaping for them except its own markers, which
    # templates do not use.
    return adf_document(text) if api_version == "3" else text.strip()
