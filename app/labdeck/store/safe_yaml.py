"""Reading YAML that came from outside (job files) within limits: its size, how deep it nests and
how far its aliases expand; and a key given twice in one mapping is refused, not overwritten. A file past a limit is refused with one clear line, fast: no
RecursionError from a deeply nested file, and no "billion laughs" (aliases of aliases that
expand to billions of items) eating the CPU of whatever walks the result.

PyYAML's SafeLoader does the parsing (no Python objects from tags); this module only bounds it.
"""

from __future__ import annotations

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..core.errors import InvalidInput

MAX_DOCUMENT_CHARS = 8 * 1024 * 1024  # a job file with its script bodies; far more than any real one
MAX_DEPTH = 64                        # nested lists and mappings, aliases expanded
MAX_EXPANDED_ITEMS = 1_000_000        # every list item, key and value, aliases expanded


class _LimitedLoader(yaml.SafeLoader):
    def __init__(self, stream: str, source: str):
        super().__init__(stream)
        self._source = source
        self._depth = 0

    def compose_node(self, parent, index):
        # PyYAML composes recursively: stop long before Python's recursion limit
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise InvalidInput(f"{self._source} nests lists or mappings more than {MAX_DEPTH} levels deep "
                                   f"(at line {mark.line + 1})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        # PyYAML keeps the last of two equal keys: a second 'targets:' would silently win
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                line = key_node.start_mark.line + 1
                if key_node.value in seen:
                    raise InvalidInput(f"{self._source}: the key '{key_node.value}' appears twice "
                                       f"(lines {seen[key_node.value]} and {line}); keep one")
                seen[key_node.value] = line
        return super().construct_mapping(node, deep)

    def compose_document(self):
        node = super().compose_document()
        _check_expansion(node, self._source)
        return node


def load_yaml(text: str, source: str):
    """The document in ``text`` (plain lists, mappings and scalars), or InvalidInput."""
    if len(text) > MAX_DOCUMENT_CHARS:
        raise InvalidInput(f"{source} is {len(text) / 1024 / 1024:.1f} MB; a job file may be at most "
                           f"{MAX_DOCUMENT_CHARS // 1024 // 1024} MB (keep large data in files the job reads)")
    loader = _LimitedLoader(text, source)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput(f"{source} is not valid YAML{where}: {problem}") from exc
    finally:
        loader.dispose()


def _check_expansion(root: Node | None, source: str) -> None:
    """Count items and depth as if every alias were copied out, without copying: each node is
    measured once (an alias is the same node object as its anchor), so a bomb is refused in
    time proportional to the file, not to its expansion."""
    if root is None:
        return
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (items, depth) once expanded
    in_progress: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in measured:
            continue
        children = _children(node)
        if not children_done:
            if key in in_progress:
                raise InvalidInput(f"{source}: an alias refers to a list or mapping that contains it "
                                   f"(at line {node.start_mark.line + 1}); write the values out instead")
            in_progress.add(key)
            stack.append((node, True))
            for child in children:
                if id(child) in in_progress and id(child) not in measured:
                    raise InvalidInput(f"{source}: an alias refers to a list or mapping that contains it "
                                       f"(at line {child.start_mark.line + 1}); write the values out instead")
                if id(child) not in measured:
                    stack.append((child, False))
            continue
        items = 1 + sum(measured[id(c)][0] for c in children)
        depth = 1 + max((measured[id(c)][1] for c in children), default=0)
        if items > MAX_EXPANDED_ITEMS:
            raise InvalidInput(f"{source}: its aliases expand to more than {MAX_EXPANDED_ITEMS:,} items "
                               f"(at line {node.start_mark.line + 1}); a job file needs far fewer")
        if depth > MAX_DEPTH:
            raise InvalidInput(f"{source}: its aliases nest lists or mappings more than {MAX_DEPTH} levels deep "
                               f"(at line {node.start_mark.line + 1})")
        measured[key] = (items, depth)
        in_progress.discard(key)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []
