"""The Python interpreter a node runs ``.py`` script steps with (a node setting), checked where
it enters: a path (spaces allowed) or a command with plain arguments (``python3``, ``py -3``),
never characters a shell or cmd.exe would act on."""

from __future__ import annotations

import re

from .errors import InvalidInput

_ALLOWED = re.compile(r"[A-Za-z0-9 \\/:._+~()-]+")


def check_interpreter(value: str) -> str:
    """The setting as stored ("" = find one on the node), or InvalidInput with what to give."""
    value = value.strip()
    if value and not _ALLOWED.fullmatch(value):
        bad = "".join(sorted({ch for ch in value if not _ALLOWED.fullmatch(ch)}))
        raise InvalidInput(f"the Python interpreter '{value}' has characters LabDeck will not put on a command line "
                           f"({bad!r}); give a path such as C:\\Python312\\python.exe or /usr/bin/python3, "
                           "or a command such as python3 or py -3")
    return value


def is_store_placeholder(path: str) -> bool:
    """Windows' python.exe that only opens the Microsoft Store (``...\\WindowsApps\\python.exe``)."""
    return "\\windowsapps\\" in path.replace("/", "\\").lower()


def windows_python(which) -> str | None:
    """This Windows computer's Python for .py steps: the py launcher, else a python.exe on PATH that
    is not the Store's placeholder; None if there is neither. ``which`` is shutil.which."""
    launcher = which("py")
    if launcher and not is_store_placeholder(launcher):
        return "py -3"
    python = which("python")
    if python and not is_store_placeholder(python):
        return python
    return None


NO_PYTHON = ("no Python found on node '{node}' to run '{script}' (on Windows, python.exe may be only the "
             "Microsoft Store's placeholder): install Python (python.org, with the py launcher), or set the "
             "node's interpreter: labdeck node python {node} PATH")
