"""Ansible inventories, INI or YAML, to nodes.

Both formats are read into the same shape (groups with hosts, vars and children) and resolved
the way Ansible resolves them: a host is in its groups and all their ancestors; the groups
(except ``all`` and ``ungrouped``) become its tags; variables apply from ``all`` through
parent groups to child groups (deeper wins, then by name), then the host's own. ``gpu[01:08]``
ranges expand as Ansible expands them. Connection variables become node fields; a password in
the inventory is refused (LabDeck keeps secrets in the keyring only).
"""

from __future__ import annotations

import getpass
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ..core.models import WINRM_AUTHS, Node, Transport, WinrmSettings
from .ansible_yaml import read_yaml_inventory
from .candidates import SECRET_HINT, InventoryError, NodeCandidate, at, parse_port, read_text

SECRET_VARS = ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password", "ansible_become_pass",
               "ansible_become_password", "ansible_sudo_pass", "ansible_su_pass", "ansible_winrm_password",
               "ansible_private_key_passphrase", "ansible_ssh_private_key_passphrase", "ansible_httpapi_pass",
               "ansible_psrp_password")
SSH_CONNECTIONS = ("ssh", "paramiko", "smart", "paramiko_ssh")
WINRM_CONNECTIONS = ("winrm", "psrp")
TAKEN = {"ansible_host", "ansible_ssh_host", "ansible_port", "ansible_ssh_port", "ansible_user", "ansible_ssh_user",
         "ansible_ssh_private_key_file", "ansible_private_key_file", "ansible_connection",
         "ansible_winrm_transport", "ansible_winrm_scheme", "ansible_winrm_server_cert_validation",
         "ansible_shell_type", "ansible_ssh_common_args", "ansible_ssh_extra_args"}


@dataclass
class Var:
    value: object
    line: int
    secret: bool = False   # an !vault value


@dataclass
class Group:
    name: str
    line: int = 0
    hosts: dict[str, tuple[int, dict[str, Var]]] = field(default_factory=dict)  # name -> (line, host vars)
    vars: dict[str, Var] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)


def parse_ansible(path: Path) -> list[NodeCandidate]:
    text = read_text(path)
    looks_yaml = path.suffix.lower() in (".yml", ".yaml") or _first_word(text).endswith(":")
    groups = read_yaml_inventory(path, text) if looks_yaml else read_ini_inventory(path, text)
    return resolve(path, groups)


def _first_word(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "---")):
            return line.split()[0]
    return ""


# ---- INI -------------------------------------------------------------------------------

def read_ini_inventory(path: Path, text: str) -> dict[str, Group]:
    groups: dict[str, Group] = {"all": Group("all"), "ungrouped": Group("ungrouped")}
    group, kind = groups["ungrouped"], "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        header = re.fullmatch(r"\[([^\]:\s]+)(?::(vars|children))?\]\s*(?:[#;].*)?", line)
        if line.startswith("["):
            if not header:
                raise at(path, number, f"'{line}' is not a section header ([group], [group:vars] or "
                                       "[group:children])")
            name, kind = header.group(1), header.group(2) or "hosts"
            group = groups.setdefault(name, Group(name, number))
            continue
        if kind == "vars":
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise at(path, number, f"'{line}' in [{group.name}:vars] is not NAME=VALUE")
            group.vars[key.strip()] = Var(_unquote(value.strip()), number)
        elif kind == "children":
            child = line.split()[0]
            groups.setdefault(child, Group(child, number))
            if child not in group.children:
                group.children.append(child)
        else:
            try:
                words = shlex.split(line, comments=True)
            except ValueError as exc:
                raise at(path, number, f"cannot read the host line ({exc})") from None
            host_vars = {}
            for word in words[1:]:
                key, sep, value = word.partition("=")
                if not sep or not key:
                    raise at(path, number, f"'{word}' is not NAME=VALUE (host variables are written key=value)")
                host_vars[key] = Var(value, number)
            _add_host(path, number, group, words[0], host_vars)
    return groups


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value.split(" #")[0].strip() if " #" in value else value


def _add_host(path: Path, number: int, group: Group, pattern: str, host_vars: dict[str, Var]) -> None:
    name, port = pattern, None
    match = re.fullmatch(r"(.*[^:]):(\d+)", pattern)  # host:port (not an IPv6 address)
    if match and match.group(1).count(":") == 0:
        name, port = match.group(1), match.group(2)
    for host in expand_host_range(name, path, number):
        merged = dict(group.hosts.get(host, (number, {}))[1])
        if port:
            merged["ansible_port"] = Var(port, number)
        merged.update(host_vars)
        group.hosts[host] = (group.hosts.get(host, (number, {}))[0], merged)


def expand_host_range(pattern: str, path: Path, number: int) -> list[str]:
    """``gpu[01:08]`` -> gpu01 ... gpu08 (padding kept), ``db-[a:c]``, ``n[0:10:5]``; several
    ranges multiply."""
    match = re.search(r"\[([^\]]*)\]", pattern)
    if not match:
        return [pattern]
    parts = match.group(1).split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise at(path, number, f"host range '[{match.group(1)}]' is not [start:end] or [start:end:step]")
    start, end = parts[0], parts[1]
    try:
        step = int(parts[2]) if len(parts) == 3 else 1
    except ValueError:
        raise at(path, number, f"host range step '{parts[2]}' is not a number") from None
    if step < 1:
        raise at(path, number, "host range step must be at least 1")
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") else 0
        values = [str(i).zfill(width) for i in range(int(start), int(end) + 1, step)]
    elif len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        values = [chr(c) for c in range(ord(start), ord(end) + 1, step)]
    else:
        raise at(path, number, f"host range '[{match.group(1)}]' mixes letters and numbers")
    if not values:
        raise at(path, number, f"host range '[{match.group(1)}]' is empty (start after end)")
    head, tail = pattern[:match.start()], pattern[match.end():]
    return [head + v + rest for v in values for rest in expand_host_range(tail, path, number)]


# ---- groups to candidates ----------------------------------------------------------------

def resolve(path: Path, groups: dict[str, Group]) -> list[NodeCandidate]:
    groups.setdefault("all", Group("all"))
    groups.setdefault("ungrouped", Group("ungrouped"))
    parents: dict[str, set[str]] = {name: set() for name in groups}
    for group in groups.values():
        if group.name not in ("all", "ungrouped"):
            check_group_name(path, group.line, group.name)
        for child in group.children:
            parents[child].add(group.name)
    for name in groups:
        if name in _ancestors(name, parents, groups):
            raise at(path, groups[name].line, f"group '{name}' is its own ancestor (a loop of children)")
    hosts: dict[str, tuple[int, dict[str, Var], set[str]]] = {}
    for group in groups.values():
        for host, (line, host_vars) in group.hosts.items():
            first_line, merged, member_of = hosts.get(host, (line, {}, set()))
            merged.update(host_vars)
            member_of.add(group.name)
            hosts[host] = (first_line, merged, member_of)
    candidates = []
    for host, (line, host_vars, member_of) in sorted(hosts.items(), key=lambda item: item[1][0]):
        every = set(member_of)
        for name in member_of:
            every |= _ancestors(name, parents, groups)
        every.add("all")
        depth = {name: _depth(name, parents) for name in every}
        values: dict[str, Var] = {}
        for name in sorted(every, key=lambda n: (depth[n], n)):
            values.update(groups[name].vars)
        values.update(host_vars)
        tags = sorted(every - {"all", "ungrouped"})
        candidates.append(_candidate(path, host, line, values, tags))
    return candidates


def _ancestors(name: str, parents: dict[str, set[str]], groups) -> set[str]:
    seen: set[str] = set()
    todo = list(parents.get(name, ()))
    while todo:
        parent = todo.pop()
        if parent not in seen:
            seen.add(parent)
            todo.extend(parents.get(parent, ()))
    return seen


def _depth(name: str, parents: dict[str, set[str]], seen: frozenset = frozenset()) -> int:
    if name == "all" or not parents.get(name) or name in seen:
        return 0 if name == "all" else 1
    return 1 + max(_depth(p, parents, seen | {name}) for p in parents[name])


def _candidate(path: Path, host: str, line: int, values: dict[str, Var], tags: list[str]) -> NodeCandidate:
    for key, var in values.items():
        if key in SECRET_VARS or var.secret:
            raise at(path, var.line, f"host '{host}' gets a secret from '{key}': {SECRET_HINT}")

    def get(*keys: str) -> Var | None:
        for key in keys:
            if key in values and values[key].value not in (None, ""):
                return values[key]
        return None

    def text(var: Var | None, default: str = "") -> str:
        return default if var is None else str(var.value)

    connection = text(get("ansible_connection"), "ssh").lower()
    notes: list[str] = []
    if connection in SSH_CONNECTIONS:
        transport = Transport.SSH
    elif connection in WINRM_CONNECTIONS:
        transport = Transport.WINRM
        if connection == "psrp":
            notes.append("ansible_connection=psrp: reached over WinRM (the same service) with the cmd shell")
    elif connection == "local":
        transport = Transport.LOCAL
    else:
        var = get("ansible_connection")
        raise at(path, var.line if var else line, f"host '{host}': ansible_connection={connection} is not "
                                                  "supported (use ssh, winrm or local)")
    port_var = get("ansible_port", "ansible_ssh_port")
    port = parse_port(port_var.value, path, port_var.line) if port_var else None
    user = text(get("ansible_user", "ansible_ssh_user"))
    if transport is Transport.SSH and not user:
        user = getpass.getuser()
        notes.append(f"no ansible_user: the local user '{user}' (as Ansible does)")
    key_file = text(get("ansible_ssh_private_key_file", "ansible_private_key_file")) or None
    node = Node(name=host, transport=transport, host=text(get("ansible_host", "ansible_ssh_host"), host),
                port=port, username=user, key_file=key_file, tags=tags)
    if transport is Transport.WINRM:
        node.winrm = _winrm_settings(path, host, get, port, notes)
    via = []
    args_var = get("ansible_ssh_common_args", "ansible_ssh_extra_args")
    if args_var:
        jump = re.search(r"(?:-J\s*|ProxyJump[= ])([^\s'\"]+)", str(args_var.value))
        if jump:
            via = [hop.rsplit("@", 1)[-1].split(":")[0] for hop in jump.group(1).split(",")]
        else:
            notes.append(f"{args_var.value!r} in the ssh arguments is not taken over")
    for key, var in values.items():
        if key.startswith("ansible_") and key not in TAKEN:
            notes.append(f"{key} is not taken over")
        elif not key.startswith("ansible_") and isinstance(var.value, (str, int, float, bool)):
            node.attributes[key] = str(var.value)
    return NodeCandidate(node, f"{path}:{line}", via, notes)


def _winrm_settings(path: Path, host: str, get, port: int | None, notes: list[str]) -> WinrmSettings:
    transport_var = get("ansible_winrm_transport")
    auth = "ntlm"
    if transport_var:
        wanted = [t.strip().lower() for t in str(transport_var.value).strip("[]").replace("'", "").split(",")]
        wanted = ["basic" if t == "plaintext" else t for t in wanted]
        usable = [t for t in wanted if t in WINRM_AUTHS]
        if not usable:
            raise at(path, transport_var.line, f"host '{host}': ansible_winrm_transport={transport_var.value} is "
                                               f"not supported (use {', '.join(WINRM_AUTHS)})")
        auth = usable[0]
    scheme_var = get("ansible_winrm_scheme")
    if scheme_var:
        scheme = str(scheme_var.value).lower()
        if scheme not in ("http", "https"):
            raise at(path, scheme_var.line, f"host '{host}': ansible_winrm_scheme={scheme} is not http or https")
        https = scheme == "https"
    else:
        https = port != 5985  # Ansible's default: https unless the port is 5985
    verify = get("ansible_winrm_server_cert_validation")
    shell_var = get("ansible_shell_type")
    shell = "cmd"
    if shell_var and str(shell_var.value).lower() in ("powershell", "cmd"):
        shell = str(shell_var.value).lower()
    elif not shell_var:
        notes.append("WinRM command steps run in cmd (Ansible's default shell is PowerShell: set it per node)")
    return WinrmSettings(auth=auth, https=https, shell=shell,
                         verify_cert=not (verify and str(verify.value).lower() == "ignore"))


def check_group_name(path: Path, line: int, name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise InventoryError(f"{path}:{line}: group name '{name}' has characters a tag cannot have")
