"""The YAML form of an Ansible inventory read into groups, keeping the line of every host and
variable (for error messages) and marking ``!vault`` values as secrets without decrypting them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from .candidates import at

if TYPE_CHECKING:
    from .ansible import Group

GROUP_KEYS = ("hosts", "vars", "children")


def read_yaml_inventory(path: Path, text: str) -> dict[str, Group]:
    from .ansible import Group, _add_host
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = (getattr(exc, "problem", None) or str(exc)).replace("'\\t'", "a tab (YAML indents with spaces)")
        raise at(path, mark.line + 1 if mark else None, f"not valid YAML: {reason}") from None
    groups: dict[str, Group] = {}
    if root is None:
        return groups
    if not isinstance(root, yaml.MappingNode):
        raise at(path, root.start_mark.line + 1, "an inventory is a mapping of groups (e.g. 'all:')")

    def read_group(name: str, node: yaml.Node, line: int) -> None:
        group = groups.setdefault(name, Group(name, line))
        if _is_null(node):
            return
        if not isinstance(node, yaml.MappingNode):
            raise at(path, line, f"group '{name}' must be a mapping with hosts, vars or children")
        for key_node, value in node.value:
            key, key_line = key_node.value, key_node.start_mark.line + 1
            if key not in GROUP_KEYS:
                from .candidates import did_you_mean
                raise at(path, key_line, f"group '{name}' has '{key}': a group holds only hosts, vars and "
                                         f"children{did_you_mean(key, GROUP_KEYS)}")
            if _is_null(value):
                continue
            if not isinstance(value, yaml.MappingNode):
                raise at(path, key_line, f"'{key}' of group '{name}' must be a mapping")
            for sub_key, sub_value in value.value:
                sub_line = sub_key.start_mark.line + 1
                if key == "hosts":
                    _add_host(path, sub_line, group, str(sub_key.value), _vars(path, sub_value, sub_line))
                elif key == "vars":
                    group.vars.update(_vars(path, yaml.MappingNode("tag:yaml.org,2002:map", [(sub_key, sub_value)]),
                                            sub_line))
                else:
                    child = str(sub_key.value)
                    if child not in group.children:
                        group.children.append(child)
                    read_group(child, sub_value, sub_line)

    for key_node, value in root.value:
        read_group(str(key_node.value), value, key_node.start_mark.line + 1)
    return groups


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _vars(path: Path, node: yaml.Node, line: int) -> dict:
    from .ansible import Var
    if _is_null(node):
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise at(path, line, "host variables must be a mapping (name: value)")
    result = {}
    for key_node, value in node.value:
        key_line = key_node.start_mark.line + 1
        if value.tag == "!vault":
            result[str(key_node.value)] = Var(None, key_line, secret=True)
            continue
        try:
            plain = yaml.SafeLoader("").construct_object(value, deep=True) if not isinstance(value, yaml.ScalarNode) \
                else _scalar(value)
        except yaml.YAMLError as exc:
            raise at(path, key_line, f"cannot read the value of '{key_node.value}' ({exc})") from None
        result[str(key_node.value)] = Var(plain, key_line)
    return result


def _scalar(node: yaml.ScalarNode):
    loader = yaml.SafeLoader("")
    return loader.construct_object(node)
