"""The small expression language of a workflow step's ``when:`` and the ``${steps.X...}``
references in commands. No eval(): a tokenizer and a recursive-descent parser.

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := value (("==" | "!=" | "<" | "<=" | ">" | ">=") value)?
    value   := ${steps.NAME.exit_code} | ${steps.NAME.status} | ${steps.NAME.outputs.KEY}
             | 'text' | "text" | number | true | false | "(" expr ")"

Two values compare as numbers when both look like numbers, else as text. A value alone is
true unless it is empty, "0", "false" or "no".
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import InvalidInput

REFERENCE = re.compile(r"\$\{steps\.([A-Za-z_][A-Za-z0-9_-]*)\.(exit_code|status|outputs\.([A-Za-z0-9_.-]+))\}")
_TOKEN = re.compile(r"""\s*(?:(?P<ref>\$\{steps\.[^}]*\})|(?P<str>'[^']*'|"[^"]*")|(?P<num>-?\d+(?:\.\d+)?)
                        |(?P<op>==|!=|<=|>=|<|>|\(|\))|(?P<word>[A-Za-z_]+))""", re.VERBOSE)
_COMPARE = ("==", "!=", "<", "<=", ">", ">=")
_FALSY = ("", "0", "false", "no")

Lookup = Callable[[str, str, str | None], str]
"""(step, field, output key) -> value as text: field is "exit_code", "status" or "outputs"."""


def step_references(text: str) -> set[str]:
    """Names of the steps a text refers to with ``${steps.NAME...}``."""
    return {m.group(1) for m in REFERENCE.finditer(text or "")}


def resolve_reference(match: re.Match[str], lookup: Lookup) -> str:
    name, what, key = match.group(1), match.group(2), match.group(3)
    return lookup(name, "outputs" if key is not None else what, key)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise InvalidInput(f"condition '{text}': cannot read it from '{text[pos:].strip()}'")
        kind = m.lastgroup or ""  # every alternative of _TOKEN is a named group
        value = m.group(kind)
        if kind == "ref" and not REFERENCE.fullmatch(value):
            raise InvalidInput(f"condition '{text}': '{value}' is not ${{steps.NAME.exit_code}}, "
                               "${steps.NAME.status} or ${steps.NAME.outputs.KEY}")
        if kind == "word" and value not in ("and", "or", "not", "true", "false"):
            raise InvalidInput(f"condition '{text}': unknown word '{value}' (quote text: '{value}')")
        tokens.append((kind, value))
        pos = m.end()
    return tokens


class _Parser:
    """Builds a tree of tuples: ("or"|"and", a, b), ("not", a), ("cmp", op, a, b), ("lit", s), ("ref", s)."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise InvalidInput(f"condition '{self.text}' ends too early")
        self.pos += 1
        return token

    def parse(self):
        if not self.tokens:
            raise InvalidInput("an empty condition")
        tree = self.boolean("or")
        extra = self.peek()
        if extra is not None:
            raise InvalidInput(f"condition '{self.text}': unexpected '{extra[1]}'")
        return tree

    def boolean(self, op: str):
        sub = (lambda: self.boolean("and")) if op == "or" else self.negation
        tree = sub()
        while self.peek() == ("word", op):
            self.take()
            tree = (op, tree, sub())
        return tree

    def negation(self):
        if self.peek() == ("word", "not"):
            self.take()
            return ("not", self.negation())
        return self.compare()

    def compare(self):
        left = self.value()
        token = self.peek()
        if token and token[0] == "op" and token[1] in _COMPARE:
            self.take()
            return ("cmp", token[1], left, self.value())
        return left

    def value(self):
        kind, text = self.take()
        if kind == "op" and text == "(":
            tree = self.boolean("or")
            if self.peek() != ("op", ")"):
                raise InvalidInput(f"condition '{self.text}': missing ')'")
            self.take()
            return tree
        if kind == "str":
            return ("lit", text[1:-1])
        if kind in ("num", "word") and text not in ("and", "or", "not"):
            return ("lit", text)
        if kind == "ref":
            return ("ref", text)
        raise InvalidInput(f"condition '{self.text}': unexpected '{text}'")


def parse_condition(text: str):
    return _Parser(text).parse()


def evaluate(text: str, lookup: Lookup) -> bool:
    return _truthy(_eval(parse_condition(text), lookup))


def _eval(tree, lookup: Lookup):
    kind = tree[0]
    if kind == "lit":
        return tree[1]
    if kind == "ref":
        reference = REFERENCE.fullmatch(tree[1])
        assert reference is not None  # the tokenizer admits only references that match
        return resolve_reference(reference, lookup)
    if kind == "not":
        return not _truthy(_eval(tree[1], lookup))
    if kind in ("and", "or"):
        left = _truthy(_eval(tree[1], lookup))
        if kind == "and":
            return left and _truthy(_eval(tree[2], lookup))
        return left or _truthy(_eval(tree[2], lookup))
    op, a, b = tree[1], _text(_eval(tree[2], lookup)), _text(_eval(tree[3], lookup))
    x, y = _number(a), _number(b)
    if x is not None and y is not None:  # compare as numbers only when both are numbers
        return _compare(op, x, y)
    return _compare(op, a, b)


def _compare[T: (str, float)](op: str, x: T, y: T) -> bool:
    return {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _truthy(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in _FALSY
