"""What the build leaves out: Python modules LabDeck never imports, and most of Qt. LabDeck uses
QtCore, QtGui, QtWidgets and QtNetwork's local sockets; the PySide6 hooks would otherwise bring
every plugin of those modules (PDF and SVG image readers, SQL drivers, TLS backends, QML tooling,
Qt's translations) and the Qt libraries those plugins need. Names are matched on the bundle's
destination paths, which differ by OS (``PySide6/Qt/plugins/platforms/libqxcb.so``,
``PySide6/plugins/platforms/qwindows.dll``)."""

from __future__ import annotations

import re

# Python modules never used by the app (the Essentials wheel ships some of them). PySide6.QtOpenGL
# and QtOpenGLWidgets stay: pyqtgraph (the charts) imports both when it loads, though LabDeck
# never makes a GL context.
EXCLUDED_MODULES = [
    "tkinter", "invoke",  # paramiko imports invoke only for ssh_config "Match exec", which LabDeck never parses
    "setuptools", "pkg_resources", "_distutils_hack",  # build tools; their runtime hook cost 0.2 s of each start
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets", "PySide6.QtQuickControls2",
    "PySide6.QtQuickTest", "PySide6.QtQmlFeatures", "PySide6.QtLabsStyleKit", "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets", "PySide6.QtWebEngineQuick", "PySide6.Qt3DCore", "PySide6.Qt3DRender",
    "PySide6.QtMultimedia", "PySide6.QtMultimediaWidgets", "PySide6.QtCharts", "PySide6.QtDataVisualization",
    "PySide6.QtPdf", "PySide6.QtPdfWidgets", "PySide6.QtSql", "PySide6.QtTest", "PySide6.QtDesigner",
    "PySide6.QtHelp", "PySide6.QtSvg", "PySide6.QtSvgWidgets",
    "PySide6.QtXml", "PySide6.QtUiTools", "PySide6.QtConcurrent", "PySide6.QtPrintSupport", "PySide6.QtDBus",
    "PySide6.QtBluetooth", "PySide6.QtPositioning", "PySide6.QtSerialPort", "PySide6.QtWebSockets",
]

# Plugin folder -> plugin names kept (None: all of them). Folders not listed are left out.
KEPT_PLUGINS: dict[str, set[str] | None] = {
    "platforms": {"qxcb", "qwayland", "qwindows", "qcocoa", "qoffscreen", "qminimal"},
    "platformthemes": {"qxdgdesktopportal"},  # the desktop's light/dark preference on Linux; not gtk3's libraries
    "platforminputcontexts": {"composeplatforminputcontextplugin", "ibusplatforminputcontextplugin"},
    "styles": None,  # the Windows 11 style lives here
    "xcbglintegrations": None,
    "wayland-shell-integration": None,
    "wayland-decoration-client": {"bradient"},  # adwaita needs QtSvg; Qt falls back to bradient
}

# Qt libraries only the left-out modules and plugins load.
DROPPED_QT_LIBRARIES = {"Qt6Qml", "Qt6QmlModels", "Qt6QmlMeta", "Qt6QmlWorkerScript", "Qt6Quick", "Qt6QuickWidgets",
                        "Qt6QuickControls2", "Qt6QuickTemplates2", "Qt6VirtualKeyboard", "Qt6Pdf", "Qt6Svg",
                        "Qt6Sql", "Qt6Test", "Qt6Designer", "Qt6Help", "Qt6PrintSupport", "Qt6Xml",
                        "Qt6Concurrent", "Qt6VirtualKeyboardQml", "Qt6LabsStyleKit",
                        "Qt6EglFSDeviceIntegration", "Qt6EglFsKmsSupport"}


def plugin_name(filename: str) -> str:
    """'libqxcb.so' / 'qwindows.dll' / 'libqcocoa.dylib' -> 'qxcb' / 'qwindows' / 'qcocoa'."""
    stem = filename.split(".")[0]
    return stem[3:] if stem.startswith("lib") and not filename.endswith(".dll") else stem


def qt_library_name(filename: str) -> str | None:
    """'libQt6Quick.so.6' / 'Qt6Quick.dll' / 'QtQuick' (a macOS framework) -> 'Qt6Quick'."""
    match = re.match(r"(?:lib)?(Qt6?\w+?)(?:\.so.*|\.dll|\.dylib)?$", filename)
    if not match:
        return None
    name = match.group(1)
    return name if name.startswith("Qt6") else "Qt6" + name[2:]


def keep_plugin(plugin_type: str, filename: str) -> bool:
    kept = KEPT_PLUGINS.get(plugin_type, set())
    return kept is None or plugin_name(filename) in kept


def keep(dest_name: str) -> bool:
    parts = dest_name.replace("\\", "/").split("/")
    if parts[0] != "PySide6":
        return True
    if "translations" in parts:
        return False
    if "plugins" in parts:
        i = parts.index("plugins")
        if len(parts) > i + 2:
            return keep_plugin(parts[i + 1], parts[-1])
    if "qml" in parts or parts[-1].lower() == "opengl32sw.dll":  # software OpenGL: widgets never make GL contexts
        return False
    return qt_library_name(parts[-1]) not in DROPPED_QT_LIBRARIES


def prune(toc: list[tuple]) -> list[tuple]:
    """A PyInstaller TOC (binaries or datas) without what ``keep`` leaves out."""
    return [entry for entry in toc if keep(entry[0])]


def limit_plugin_collection() -> None:
    """Make PyInstaller's Qt hooks collect only the kept plugins, so the libraries that the left-out
    plugins link to (GTK for the gtk3 theme, for one) are never analysed into the bundle."""
    from PyInstaller.utils.hooks import qt

    collect_plugins = qt.QtLibraryInfo.collect_plugins

    def collect_kept_plugins(self, plugin_type):
        return [(src, dest) for src, dest in collect_plugins(self, plugin_type)
                if keep_plugin(plugin_type, src.replace("\\", "/").rsplit("/", 1)[-1])]

    qt.QtLibraryInfo.collect_plugins = collect_kept_plugins
