"""A small XML reader for exported job definitions (Rundeck, Windows Task Scheduler): expat
directly, so every element keeps the line it starts on for error messages; no DTD, entity
declaration or external entity is accepted. Text in any encoding read_text understands (the
file's own encoding declaration is overridden: a UTF-16 export says encoding="UTF-16")."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from .candidates import at


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list[Element] = field(default_factory=list)
    text: str = ""

    def find(self, tag: str) -> Element | None:
        return next((c for c in self.children if c.tag == tag), None)

    def all(self, tag: str) -> list[Element]:
        return [c for c in self.children if c.tag == tag]

    def value(self, tag: str) -> str | None:
        child = self.find(tag)
        return child.text.strip() if child is not None else None


def parse_xml(path: Path, text: str) -> Element:
    parser = expat.ParserCreate("UTF-8")  # the text is re-encoded as UTF-8 below, whatever the file said
    stack: list[Element] = []
    root: list[Element] = []

    def start(tag, attrs):
        element = Element(tag, dict(attrs), parser.CurrentLineNumber)
        (stack[-1].children if stack else root).append(element)
        stack.append(element)

    def end(_tag):
        stack.pop()

    def data(chunk):
        if stack:
            stack[-1].text += chunk

    def refuse_entities(*_args):
        raise at(path, parser.CurrentLineNumber, "entity declarations (<!ENTITY>) are not allowed here")

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, data
    parser.EntityDeclHandler = refuse_entities
    try:
        parser.Parse(text.lstrip("\ufeff").encode("utf-8"), True)
    except expat.ExpatError as exc:
        raise at(path, getattr(exc, "lineno", None), f"not valid XML: {expat.ErrorString(exc.code) if exc.code else exc}") \
            from None
    return root[0]
