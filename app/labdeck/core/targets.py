"""Target specs: which nodes a job or command runs on.

Grammar (no I/O here; the caller passes the nodes):
    SPEC  := TERM ("," TERM)*          union of the terms, in catalog order
    TERM  := ["!"] ATOM ("&" ATOM)*    "!" removes what the term matches; "&" intersects
    ATOM  := "all" | "tag:" TAG | NODE_NAME
Examples: ``all``, ``node1,node2``, ``tag:gpu``, ``tag:gpu&tag:windows``, ``all,!node3``.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import InvalidInput, NotFound
from .models import Node
from .names import refuse_unusable_names


def _match_atom(atom: str, nodes: Sequence[Node]) -> set[str]:
    if atom == "all":
        return {n.name for n in nodes}
    if atom.startswith("tag:"):
        tag = atom[4:]
        if not tag:
            raise InvalidInput("empty tag in target spec: write tag:NAME")
        return {n.name for n in nodes if tag in n.tags}
    names = {n.name for n in nodes}
    if atom not in names:
        known = ", ".join(sorted(names)) or "none yet"
        raise NotFound(f"unknown node '{atom}' in targets (known nodes: {known})")
    return {atom}


def resolve_targets(spec: str, nodes: Sequence[Node], allow_empty: bool = False) -> list[Node]:
    """Nodes matched by ``spec``, in the order of ``nodes``. Raises on unknown names, and on no
    match unless ``allow_empty`` (a job may name a tag before any node has it)."""
    if not spec or not spec.strip():
        raise InvalidInput("empty target spec: give node names, tag:NAME or all")
    included: set[str] = set()
    excluded: set[str] = set()
    for raw_term in spec.split(","):
        term = raw_term.strip()
        if not term:  # "gpu1,", "a,,b": a name was probably meant there
            raise InvalidInput(f"empty term in targets '{spec}': remove the extra comma or name a node there")
        negate = term.startswith("!")
        if negate:
            term = term[1:].strip()
        atoms = [a.strip() for a in term.split("&")]
        if any(not a for a in atoms):
            raise InvalidInput(f"malformed target term '{raw_term.strip()}'")
        matched = _match_atom(atoms[0], nodes)
        for atom in atoms[1:]:
            matched &= _match_atom(atom, nodes)
        (excluded if negate else included).update(matched)
    chosen = included - excluded
    if not chosen and not allow_empty:
        raise InvalidInput(f"target spec '{spec}' matches no node")
    refuse_unusable_names(sorted(chosen))
    return [n for n in nodes if n.name in chosen]
