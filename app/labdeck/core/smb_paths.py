"""Where a LabDeck remote path lands on a Windows node's SMB share (no I/O).

A remote path means the same over SMB as through WinRM's PowerShell: relative paths (and
``~/...``) start in the user's profile folder, ``C:/x`` or ``C:\\x`` is that drive's path, and
``/x`` is on the profile's drive. The Windows path is then found on the share:

- a drive's admin share (``C$``, the default) stands for every admin share, so ``D:\\data``
  goes to ``\\\\host\\D$\\data``;
- any other share exposes one folder (``share_root``, e.g. ``D:\\Lab``): paths inside it map
  under the share, paths outside it are refused with a message saying so.
"""

from __future__ import annotations

import ntpath
import re
from dataclasses import dataclass

from .errors import InvalidInput

ADMIN_SHARE = re.compile(r"^[A-Za-z]\$$")
_DRIVE_PATH = re.compile(r"^/?([A-Za-z]):(?:[/\\](.*))?$", re.S)
_SHARE_NAME = re.compile(r"^[^\\/:*?\"<>|]{1,80}$")


class OutsideShare(InvalidInput):
    """A path the node's SMB share cannot reach (another share's folder holds it)."""


def is_drive_absolute(path: str) -> bool:
    return bool(re.match(r"^[A-Za-z]:[\\/]", path))


def check_smb_settings(share: str, port: int, share_root: str, home: str) -> None:
    if not _SHARE_NAME.match(share or ""):
        raise InvalidInput(f"SMB share '{share}' is not a share name (e.g. C$ or Lab)")
    if not 0 < int(port) < 65536:
        raise InvalidInput(f"SMB port {port} is out of range")
    if ADMIN_SHARE.match(share) and share_root:
        raise InvalidInput(f"SMB share {share} is a drive's admin share: it needs no share folder")
    if not ADMIN_SHARE.match(share) and not is_drive_absolute(share_root):
        raise InvalidInput(f"SMB share '{share}': give the Windows folder it exposes (e.g. D:\\Lab), "
                           f"or use the admin share C$")
    if home and not is_drive_absolute(home):
        raise InvalidInput(f"SMB home folder '{home}' must be a full Windows path such as C:\\Users\\alice")


def windows_path(remote: str, home: str) -> str:
    """The full Windows path a LabDeck remote path names on the node."""
    path = remote.replace("\\", "/")
    if path in ("", ".", "~", "~/"):
        path = ""
    elif path.startswith("~/"):
        path = path[2:]
    match = _DRIVE_PATH.match(path)
    if match:
        full = f"{match.group(1).upper()}:\\{match.group(2) or ''}"
    elif not home:
        raise InvalidInput(f"{remote}: the node's profile folder is not known, so a relative path has no place")
    elif path.startswith("/"):
        full = home[:2] + path
    else:
        full = home + "\\" + path if path else home
    full = ntpath.normpath(full.replace("/", "\\"))
    return full if len(full) > 2 else full + "\\"


@dataclass(frozen=True)
class SmbLayout:
    """How one node's paths map onto UNC paths of its share."""
    host: str
    share: str = "C$"
    home: str = ""
    share_root: str = ""

    def unc(self, remote: str) -> str:
        full = windows_path(remote, self.home)
        if ADMIN_SHARE.match(self.share):
            share, inside = f"{full[0].upper()}$", full[3:]
        else:
            root = ntpath.normpath(self.share_root).rstrip("\\")
            if full.lower() == root.lower() or full.lower() == root.lower() + "\\":
                share, inside = self.share, ""
            elif full.lower().startswith(root.lower() + "\\"):
                share, inside = self.share, full[len(root) + 1:]
            else:
                raise OutsideShare(f"{remote} ({full}) is outside the SMB share {self.share} ({self.share_root}); "
                                   f"use a path under {self.share_root} or the admin share C$")
        return f"\\\\{self.host}\\{share}" + (f"\\{inside}" if inside else "")
