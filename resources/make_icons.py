"""Render the icon set from the hand-drawn SVG: app icon PNGs (16..256), the Windows ICO, the
macOS ICNS, and one tray icon per state (idle / running / failed: the app icon with a badge).

    python resources/make_icons.py        # rewrites the generated files next to this script

Qt's QSvgRenderer draws (offscreen, no display needed); Pillow packs the ICO and ICNS. The
generated files are committed, because the build and the app load them instead of rendering.
"""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "labdeck.svg"
APP_SIZES = (16, 24, 32, 48, 64, 128, 256)
TRAY_SIZES = (16, 24, 32, 48, 64)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)

# The state badge, drawn over the lower-right corner of the app icon (in its 256-unit space).
BADGE = ('<circle cx="184" cy="184" r="72" fill="#1c272c"/>'
         '<circle cx="184" cy="184" r="58" fill="{color}"/>{mark}')
STATES = {
    "idle": ("#43a047", '<path d="M157 186 l19 19 l36 -40" fill="none" stroke="#fff" stroke-width="16" '
                        'stroke-linecap="round" stroke-linejoin="round"/>'),
    "running": ("#1e88e5", '<path d="M168 152 L214 184 L168 216 Z" fill="#fff" stroke="#fff" stroke-width="8" '
                           'stroke-linejoin="round"/>'),
    "failed": ("#e53935", '<rect x="175" y="146" width="18" height="48" rx="9" fill="#fff"/>'
                          '<circle cx="184" cy="213" r="10" fill="#fff"/>'),
}


def tray_svg(base: str, state: str) -> str:
    color, mark = STATES[state]
    return re.sub(r"</svg>\s*$", BADGE.format(color=color, mark=mark) + "\n</svg>\n", base)


def render(svg_text: str, size: int):
    """The SVG drawn at size x size as a Pillow image (RGBA)."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(svg_text.encode()))
    if not renderer.isValid():
        raise SystemExit(f"make_icons: {SOURCE.name} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGBA")


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (QPainter needs one)
    base = SOURCE.read_text(encoding="utf-8")
    written = []
    app_images = {size: render(base, size) for size in APP_SIZES}
    for size, image in app_images.items():
        path = HERE / f"labdeck-{size}.png"
        image.save(path, optimize=True)
        written.append(path)
    largest = app_images[max(APP_SIZES)]
    largest.save(HERE / "labdeck.ico", sizes=[(s, s) for s in APP_SIZES],
                 append_images=[app_images[s] for s in APP_SIZES if s != max(APP_SIZES)])
    icns_images = {size: app_images.get(size) or render(base, size) for size in ICNS_SIZES}
    icns_images[max(ICNS_SIZES)].save(HERE / "labdeck.icns", append_images=list(icns_images.values())[:-1])
    written += [HERE / "labdeck.ico", HERE / "labdeck.icns"]
    for state in STATES:
        svg = tray_svg(base, state)
        for size in TRAY_SIZES:
            path = HERE / f"tray-{state}-{size}.png"
            render(svg, size).save(path, optimize=True)
            written.append(path)
    for path in written:
        print(f"wrote {path.relative_to(HERE.parent)} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
