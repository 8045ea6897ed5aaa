"""What a node name may be: it becomes a folder name (``get``'s LOCAL_DIR/<node>/, run folders
on nodes), a keyring key, an environment value and a word in target specs, so it is held to
exactly the rule the messages promise."""

from __future__ import annotations

import re

from .errors import InvalidInput

MAX_NODE_NAME = 64
NAME_CHARS = re.compile(r"[A-Za-z0-9_.-]+")  # node names and tags alike
RESERVED = {"all", ".", ".."}
RULE = (f"use 1-{MAX_NODE_NAME} letters, digits, '-', '_' or '.', not starting with '-' "
        "(and not '.', '..' or 'all')")


def node_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid node name, or None."""
    if not name:
        return "a node needs a name"
    if len(name) > MAX_NODE_NAME:
        return f"node name '{name[:MAX_NODE_NAME]}...' is {len(name)} characters long"
    if not NAME_CHARS.fullmatch(name) or name.startswith("-") or name in RESERVED:
        return f"invalid node name {name!r}"
    return None


def check_node_name(name: str) -> None:
    problem = node_name_problem(name)
    if problem:
        raise InvalidInput(f"{problem}: {RULE}")


def refuse_unusable_names(names) -> None:
    """A node added by an older LabDeck under a name that is no longer allowed is not used until it
    is renamed (removed and added again): its name could point outside a folder."""
    for name in names:
        if node_name_problem(name):
            raise InvalidInput(f"node {name!r} has a name LabDeck no longer accepts ({RULE}); remove it "
                               f"(labdeck node remove -- {name!r}) and add it again under a valid name")
