"""The package version, read from app/labdeck/__init__.py without importing LabDeck, and the
Windows version resource PyInstaller stamps on the executables (Explorer's Properties >
Details, the installer's version check) built from it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_INIT = ROOT / "app" / "labdeck" / "__init__.py"
COMPANY = "LabDeck"
DESCRIPTION = "LabDeck: run and watch batch jobs across a small lab of machines"


def read_version(init_file: Path = PACKAGE_INIT) -> str:
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', init_file.read_text(encoding="utf-8"), re.M)
    if not match:
        raise SystemExit(f"no __version__ = '...' line in {init_file}")
    return match.group(1)


def numeric_version(version: str) -> tuple[int, int, int, int]:
    """Windows wants four 16-bit numbers: '1.2.3' -> (1, 2, 3, 0); '0.4.0rc1' or '2.0.dev3' keep
    their leading numbers ('0.4.0', '2.0')."""
    numbers = []
    for part in version.split(".")[:4]:
        digits = re.match(r"\d+", part)
        if not digits:
            break
        numbers.append(min(int(digits.group()), 0xFFFF))
        if digits.group() != part:
            break
    if not numbers:
        raise ValueError(f"version {version!r} does not start with a number")
    return tuple((numbers + [0, 0, 0, 0])[:4])


def windows_version_info(version: str, exe_name: str) -> str:
    """PyInstaller's version-file text for one executable (what ``pyi-grab_version`` writes and
    ``EXE(version=<file>)`` reads; PyInstaller's own classes for it only import on Windows)."""
    numbers = numeric_version(version)
    strings = {
        "CompanyName": COMPANY,
        "FileDescription": DESCRIPTION,
        "FileVersion": version,
        "InternalName": exe_name.removesuffix(".exe"),
        "LegalCopyright": f"(c) {COMPANY} contributors",
        "OriginalFilename": exe_name,
        "ProductName": "LabDeck",
        "ProductVersion": version,
    }
    string_structs = ",\n".join(f"          StringStruct({k!r}, {v!r})" for k, v in strings.items())
    return f"""# UTF-8
VSVersionInfo(
  ffi=FixedFileInfo(filevers={numbers}, prodvers={numbers}, mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([
      StringTable('040904B0', [
{string_structs}
      ])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def write_version_file(version: str, exe_name: str, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"version-{exe_name}.txt"
    path.write_text(windows_version_info(version, exe_name), encoding="utf-8")
    return str(path)
