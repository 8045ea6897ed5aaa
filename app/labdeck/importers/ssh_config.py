"""OpenSSH client config (``~/.ssh/config``) to nodes, evaluated the way ``ssh`` evaluates it.

Every concrete ``Host`` alias (no ``*``, ``?`` or ``!``) becomes a node. Its settings come from
walking the whole file for that alias, as ssh_config(5) says: a block applies when one of its
patterns matches and none of its negated patterns does, lines before the first ``Host`` apply
to all, and for each keyword the first value obtained wins (so ``Host *`` defaults go last).
``Include`` takes globs, relative to ``~/.ssh``; an Include inside a block that does not apply
never matches anything. ``Match`` is evaluated for ``all``, ``host`` and ``originalhost`` only;
any other criterion (``exec``, ``user``, ...) is treated as not matching and reported.
"""

from __future__ import annotations

import getpass
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..core.models import Node, Transport
from .candidates import NodeCandidate, at, parse_port, read_text

MAX_INCLUDE_DEPTH = 16  # as OpenSSH's READCONF_MAX_DEPTH
KEYWORDS_TAKEN = ("hostname", "user", "port", "identityfile", "proxyjump", "proxycommand")


@dataclass
class _Line:
    path: Path
    number: int
    keyword: str        # lower case
    args: list[str]


def parse_ssh_config(path: Path, ssh_dir: Path | None = None) -> list[NodeCandidate]:
    ssh_dir = ssh_dir or Path.home() / ".ssh"
    tree = _read(path, ssh_dir, depth=0)
    aliases = _aliases(tree)
    candidates = []
    for alias, line in aliases.items():
        values, notes = _evaluate(tree, alias)
        candidates.append(_candidate(alias, line, values, notes, aliases))
    return candidates


# ---- reading: lines, with Include expanded into nested lists ----------------------------

def _read(path: Path, ssh_dir: Path, depth: int) -> list:
    items: list = []
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        words = _split(raw, path, number)
        if not words:
            continue
        keyword, args = _keyword(words, path, number)
        if keyword == "include":
            if not args:
                raise at(path, number, "Include needs a file name")
            if depth + 1 > MAX_INCLUDE_DEPTH:
                raise at(path, number, f"Include nested deeper than {MAX_INCLUDE_DEPTH} levels (an Include loop?)")
            included = []
            for pattern in args:
                expanded = os.path.expanduser(pattern)
                if not os.path.isabs(expanded):
                    expanded = str(ssh_dir / expanded)
                for name in sorted(glob.glob(expanded)):
                    included.append(_read(Path(name), ssh_dir, depth + 1))
            items.append(("include", _Line(path, number, keyword, args), included))
            continue
        if keyword in ("host", "match") and not args:
            raise at(path, number, f"{keyword.capitalize()} needs at least one pattern")
        items.append(_Line(path, number, keyword, args))
    return items


def _split(raw: str, path: Path, number: int) -> list[str]:
    """Words of a line as OpenSSH's argv_split reads them: double or single quotes group, a
    backslash escapes only a quote, a backslash or (outside quotes) a space — so Windows paths
    like C:\\Users\\me keep their backslashes; a word starting with # ends the line."""
    words, word, quote, has_word, i = [], [], "", False, 0
    text = raw.strip()
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and (text[i + 1] in "'\"\\" or (not quote and text[i + 1] == " ")):
            word.append(text[i + 1])
            has_word = True
            i += 2
            continue
        if quote:
            if c == quote:
                quote = ""
            else:
                word.append(c)
        elif c in "'\"":
            quote, has_word = c, True
        elif c in " \t":
            if has_word:
                words.append("".join(word))
                word, has_word = [], False
        elif c == "#" and not has_word:
            break
        else:
            word.append(c)
            has_word = True
        i += 1
    if quote:
        raise at(path, number, "unterminated quote")
    if has_word:
        words.append("".join(word))
    return words


def _keyword(words: list[str], path: Path, number: int) -> tuple[str, list[str]]:
    first = words[0]
    if "=" in first:  # Keyword=value (no spaces around =)
        keyword, _, value = first.partition("=")
        args = ([value] if value else []) + words[1:]
    else:
        keyword, args = first, words[1:]
        if args and args[0].startswith("="):  # Keyword = value, Keyword =value
            rest = args[0][1:]
            args = ([rest] if rest else []) + args[1:]
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", keyword):
        raise at(path, number, f"'{keyword}' is not an ssh_config keyword")
    return keyword.lower(), args


# ---- which aliases, and what applies to each --------------------------------------------

def _aliases(items: list) -> dict[str, _Line]:
    found: dict[str, _Line] = {}
    for item in items:
        if isinstance(item, tuple):
            for sub in item[2]:
                for alias, line in _aliases(sub).items():
                    found.setdefault(alias, line)
        elif item.keyword == "host":
            for pattern in item.args:
                if not any(c in pattern for c in "*?!"):
                    found.setdefault(pattern, item)
    return found


def _pattern_matches(pattern: str, name: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower())
    return re.fullmatch(regex, name.lower()) is not None


def _host_matches(patterns: list[str], name: str) -> bool:
    matched = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if _pattern_matches(pattern[1:], name):
                return False
        elif _pattern_matches(pattern, name):
            matched = True
    return matched


def _match_applies(line: _Line, alias: str, values: dict, notes: list[str]) -> bool:
    args = [a.lower() for a in line.args[:1]] + line.args[1:]
    if args[0] in ("all", "canonical", "final") and len(args) == 1:
        return args[0] == "all"
    result, i = True, 0
    while i < len(args):
        criterion = args[i].lower()
        negate = criterion.startswith("!")
        criterion = criterion.lstrip("!")
        if criterion in ("host", "originalhost") and i + 1 < len(args):
            hostname = values["hostname"].args[0] if "hostname" in values else alias
            name = hostname.replace("%h", alias) if criterion == "host" else alias
            ok = _host_matches(args[i + 1].split(","), name)
            result = result and (ok != negate)
            i += 2
            continue
        notes.append(f"Match {criterion} at {line.path.name}:{line.number} was not evaluated (taken as not matching)")
        return False
    return result


def _evaluate(items: list, alias: str) -> tuple[dict[str, _Line], list[str]]:
    values: dict[str, _Line] = {}  # keyword -> the line whose value won
    notes: list[str] = []
    _walk(items, alias, values, notes, active=True, never_match=False)
    return values, notes


def _walk(items: list, alias: str, values: dict, notes: list[str], active: bool, never_match: bool) -> bool:
    for item in items:
        if isinstance(item, tuple):
            outer = active
            for sub in item[2]:
                active = _walk(sub, alias, values, notes, active, never_match or not outer)
            active = outer
            continue
        if item.keyword == "host":
            active = not never_match and _host_matches(item.args, alias)
        elif item.keyword == "match":
            active = not never_match and _match_applies(item, alias, values, notes)
        elif active and item.keyword in KEYWORDS_TAKEN:
            values.setdefault(item.keyword, item)
    return active


# ---- one alias's values to a candidate ---------------------------------------------------

def _candidate(alias: str, line: _Line, values: dict[str, _Line], notes: list[str],
               aliases: dict[str, _Line]) -> NodeCandidate:
    def first(keyword: str) -> str | None:
        return values[keyword].args[0] if keyword in values and values[keyword].args else None

    def where(keyword: str) -> str:
        return f"{values[keyword].path.name}:{values[keyword].number}"

    local_user = getpass.getuser()
    user = first("user") or local_user
    hostname = _tokens(first("hostname") or alias, alias, user, local_user)
    port = parse_port(first("port"), values["port"].path, values["port"].number) if first("port") else None
    key_file = first("identityfile")
    if key_file:
        key_file = os.path.expanduser(_tokens(key_file, alias, user, local_user))
    via: list[str] = []
    jump = first("proxyjump")
    if jump and jump.lower() != "none":
        for hop in jump.split(","):
            hop_host, hop_note = _hop_host(hop)
            if hop_note and hop_host not in aliases:
                notes.append(f"ProxyJump {hop} ({where('proxyjump')}): {hop_note}")
            via.append(hop_host)
    if first("proxycommand") and not via:
        notes.append(f"ProxyCommand ({where('proxycommand')}) is not supported: reach the node through a jump "
                     "host (ProxyJump, or --via) instead")
    node = Node(name=alias, transport=Transport.SSH, host=hostname, port=port if port != 22 else None,
                username=user, key_file=key_file)
    return NodeCandidate(node, f"{line.path}:{line.number}", via, notes)


def _tokens(value: str, alias: str, user: str, local_user: str) -> str:
    table = {"h": alias, "n": alias, "r": user, "u": local_user, "d": str(Path.home()), "%": "%"}
    return re.sub(r"%(.)", lambda m: table.get(m.group(1), m.group(0)), value)


def _hop_host(hop: str) -> tuple[str, str]:
    """The host part of a ProxyJump hop ([user@]host[:port] or ssh://[user@]host[:port])."""
    rest = hop[len("ssh://"):] if hop.startswith("ssh://") else hop
    note = ""
    if "@" in rest:
        rest = rest.rsplit("@", 1)[1]
        note = "the jump node's own user is used"
    if rest.startswith("["):
        rest = rest[1:].split("]", 1)[0]
    elif rest.count(":") == 1:
        rest = rest.split(":", 1)[0]
        note = "the jump node's own port is used"
    return rest, note
