"""``labdeck run --param-file K=PATH``: an option value read from a file, for values longer than a
command line takes (Linux refuses one argument over 128 KiB, Windows a whole line over 32,767
characters). Checked where the flag enters: the file must exist, be a file, hold UTF-8 text and
stay within the size an option value may have."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import InvalidInput
from ..core.quoting import MAX_OPTION_VALUE_BYTES
from .common import parse_pairs


def option_values(params: list[str] | None, param_files: list[str] | None) -> dict[str, str]:
    """-p K=V values with --param-file K=PATH values added (a name given both ways is refused)."""
    values = parse_pairs(params, "-p")
    for name, path_text in parse_pairs(param_files, "--param-file").items():
        if name in values:
            raise InvalidInput(f"option '{name}' is given by both -p and --param-file: keep one")
        values[name] = _read(name, Path(path_text).expanduser())
    return values


def _read(name: str, path: Path) -> str:
    where = f"--param-file {name}={path}"
    if not path.is_file():
        raise InvalidInput(f"{where}: {'is a folder, not a file' if path.is_dir() else 'no such file'}")
    size = path.stat().st_size
    if size > MAX_OPTION_VALUE_BYTES:
        raise InvalidInput(f"{where}: the file is {size:,} bytes; an option value may be at most "
                           f"{MAX_OPTION_VALUE_BYTES:,} bytes (pass the file's path as the value instead)")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{where}: not UTF-8 text (byte {exc.start:,}); pass the file's path as the value "
                           "instead") from None
    except OSError as exc:
        raise InvalidInput(f"{where}: cannot be read ({exc.strerror or exc})") from None
