"""Where each option value travels to a step: in the environment (``LABDECK_OPTION_NAME``), or,
when it is larger than an environment carries safely on every node, as a file in the node run's
folder on the node, with ``LABDECK_OPTION_NAME_FILE`` holding that file's full path.

The limits come from the smallest carrier: a Windows node receives each step as one
``powershell.exe -EncodedCommand`` line of at most 32,767 characters (UTF-16 in base64, so about
12,000 characters of script, environment included), a Windows variable holds 32,767 characters,
and Linux takes at most 128 KiB per variable. Values up to 4 KiB (16 KiB together) stay in the
environment, as they always did; the largest of the rest go to files.
"""

from __future__ import annotations

from dataclasses import dataclass

from .quoting import env_name

ENV_VALUE_MAX_BYTES = 4 * 1024
ENV_VALUES_MAX_BYTES = 16 * 1024
FILE_VARIABLE_SUFFIX = "_FILE"
# A detached run's launcher (and a batch job's script) carries every value in its own environment:
# Linux takes 128 KiB per variable, a Windows variable 32,767 characters.
DETACHED_VALUE_MAX_BYTES = 32 * 1024
DETACHED_VALUES_MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class ValueFile:
    """One option value written to ``filename`` in the node run's folder; ``variable`` is set to
    the file's full path on the node."""
    option: str
    variable: str
    filename: str
    body: str


def value_size(value: str) -> int:
    return len(value.encode("utf-8", "surrogatepass"))


def split_values(options: dict[str, str]) -> tuple[dict[str, str], list[ValueFile]]:
    """(the environment for the values that fit, the files for those that do not)."""
    sizes = {name: value_size(value) for name, value in options.items()}
    in_files = {name for name, size in sizes.items() if size > ENV_VALUE_MAX_BYTES}
    total = sum(size for name, size in sizes.items() if name not in in_files)
    for name in sorted(set(options) - in_files, key=lambda n: (-sizes[n], n)):  # largest first
        if total <= ENV_VALUES_MAX_BYTES:
            break
        in_files.add(name)
        total -= sizes[name]
    env = {env_name(name): value for name, value in options.items() if name not in in_files}
    files = [ValueFile(name, env_name(name) + FILE_VARIABLE_SUFFIX, f"option-{name}.txt", options[name])
             for name in sorted(in_files)]
    return env, files


def detached_overflow(options: dict[str, str]) -> str:
    """Why these values cannot travel in a detached run's environment ("" when they can)."""
    sizes = {name: value_size(value) for name, value in options.items()}
    large = [f"'{name}' ({size:,} bytes)" for name, size in sorted(sizes.items()) if size > DETACHED_VALUE_MAX_BYTES]
    if large:
        return (f"option {', '.join(large)} is larger than a detached run carries in its environment "
                f"({DETACHED_VALUE_MAX_BYTES:,} bytes a value): run the job attached (--launch attached), where "
                "a large value reaches the step as a file, or put the data in a file and pass its path")
    if sum(sizes.values()) > DETACHED_VALUES_MAX_BYTES:
        return (f"the option values total {sum(sizes.values()):,} bytes, more than a detached run carries in its "
                f"environment ({DETACHED_VALUES_MAX_BYTES:,} bytes): run the job attached (--launch attached), "
                "where large values reach the step as files")
    return ""
