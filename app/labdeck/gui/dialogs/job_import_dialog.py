"""What the dialogs that bring jobs in from other tools share: rundeck_dialog.py (the Jobs
page's "Import jobs…", Rundeck's YAML or XML export) and taskscheduler_dialog.py (the
Schedules page's "Import from Task Scheduler…"). Both are a ``JobImportDialog``:

a file picker; a preview table with a box to tick per job, what it becomes (project, steps,
targets, schedules) and what will not be converted and why; below it the full report of the
selected job. Reading and checking the file and the import itself run on a worker thread,
so the window never freezes. Import commits the ticked jobs in one transaction, all or none,
with the checks the CLI makes (engine/job_import.py). A job that cannot be imported stays
in the table, unticked and greyed, with its reason; names that exist are unticked unless
"Replace" is on. Errors are shown inside the dialog, which stays open and loses nothing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import InvalidInput, LabDeckError
from ...engine.job_import import check_conversions, commit
from ...importers.rundeck_convert import JobConversion
from ..workers import run_async
from .node_dialog import ERR_STYLE, INFO_STYLE, OK_STYLE
from .preview_state import PreviewImportDialog

COLUMNS = ("Import", "Job", "Becomes", "Not converted")
BECOMES, NOT_CONVERTED = COLUMNS.index("Becomes"), COLUMNS.index("Not converted")


def becomes(conversion: JobConversion, exists: bool, replace: bool, full: bool = False) -> str:
    """One line: what the job turns into in LabDeck, or why it is not imported. ``full`` lists
    every schedule (the report below the table) instead of counting them (the table's cell)."""
    job = conversion.job
    if job is None:
        reasons = [line.removeprefix("not imported: ") for line in conversion.not_converted
                   if line.startswith("not imported")]
        return "not imported: " + ("; ".join(reasons) or "see the report")
    steps = f"{len(job.steps)} step{'s' if len(job.steps) != 1 else ''}"
    schedules = [f"{s.expr} {s.tz}" + ("" if s.enabled else " (off)") for s in conversion.schedules]
    text = f"job in project {job.project} · {steps} · on {job.targets}"
    if len(schedules) == 1 or (schedules and full):
        text += " · schedule " + "; ".join(schedules)
    elif schedules:
        text += f" · {len(schedules)} schedules"
    if exists:
        text += " · replaces the job of that name" if replace else " · a job of that name exists: kept"
    return text


def not_converted(conversion: JobConversion) -> str:
    return "; ".join(line for line in conversion.not_converted if not line.startswith("not imported")) or "—"


class JobImportDialog(PreviewImportDialog):
    loaded = Signal(bool, str)     # ok, message: the file was read and checked
    importFailed = Signal(str)

    title = "Import jobs"
    placeholder = ""
    file_filter = "All files (*)"
    pick_many = False
    targets_hint = ""   # said after a job's reason when its targets name unknown nodes

    def __init__(self, engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.conversions: list[JobConversion] = []
        self.last_settings: object = None
        self.existing: set[str] = set()
        self.ticks: dict[str, bool] = {}   # what the user ticked or unticked, by job name
        self.busy = False
        self._generation = 0               # a reading started later wins over one still running
        self.setWindowTitle(self.title)
        screen = self.screen().availableGeometry() if self.screen() else None
        self.resize(min(1100, screen.width() - 40) if screen else 1100,
                    min(620, screen.height() - 60) if screen else 620)

        self.path = QLineEdit()
        self.path.setPlaceholderText(self.placeholder)
        self.path.returnPressed.connect(self.load)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        file_row = QHBoxLayout()
        file_row.addWidget(QLabel("File:"))
        file_row.addWidget(self.path, 1)
        file_row.addWidget(browse)

        self.options = QHBoxLayout()   # a subclass adds its own settings here
        self.replace = QCheckBox("Replace jobs that already exist")
        self.replace.setToolTip("A replaced job keeps its run history and loses its old schedules")
        self.replace.toggled.connect(self._replace_toggled)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.itemChanged.connect(self._item_changed)
        self.table.itemSelectionChanged.connect(self._show_details)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Select a job to see all that was converted and all that was not.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.details)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)

        self.message = self._message_line()

        self.import_button = QPushButton("Import")
        self.import_button.setToolTip("Import every ticked job with its schedules, all of them or none")
        self.import_button.clicked.connect(self.run_import)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        self.summary = QLabel()
        buttons.addWidget(self.summary, 1)
        buttons.addWidget(self.replace)
        buttons.addWidget(self.import_button)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addLayout(file_row)
        layout.addLayout(self.options)
        layout.addWidget(split, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self._update_buttons()

    # ---- what a subclass provides ----------------------------------------------------------------

    def read_with(self, paths: list[Path], settings) -> list[JobConversion]:
        """The file(s) converted (runs on a worker thread: no widgets here)."""
        raise NotImplementedError

    def reading_settings(self) -> object:
        """The settings ``read_with`` needs, taken from the widgets on the GUI thread."""
        return None

    # ---- reading the file ----------------------------------------------------------------------

    def _browse(self) -> None:
        start = str(Path(self.paths()[0]).parent) if self.paths() else str(Path.home())
        if self.pick_many:
            chosen, _ = QFileDialog.getOpenFileNames(self, self.title, start, self.file_filter)
        else:
            one, _ = QFileDialog.getOpenFileName(self, self.title, start, self.file_filter)
            chosen = [one] if one else []
        if chosen:
            self.path.setText("; ".join(chosen))
            self.load()

    def paths(self) -> list[str]:
        return [p.strip() for p in self.path.text().split(";") if p.strip()]

    def load(self) -> None:
        """Read and check the file on a worker thread; the table fills when it is done."""
        paths = [Path(p).expanduser() for p in self.paths()]
        self._generation += 1
        generation = self._generation
        self.ticks = {}
        if not paths:
            self.conversions = []
            self._fill()
            return
        try:
            settings = self.reading_settings()
        except LabDeckError as exc:
            self._loaded_error(generation, exc)
            return
        catalog = self.engine.catalog
        self.last_settings = settings

        def work():
            conversions = self.read_with(paths, settings)
            check_conversions(catalog, conversions, self.targets_hint)
            return conversions, {j.name for j in catalog.list_jobs()}
        self._set_busy(True, "Reading " + ", ".join(p.name for p in paths) + "…")
        run_async(work, lambda result: self._loaded(generation, result),
                  lambda exc: self._loaded_error(generation, exc))

    def _loaded(self, generation: int, result) -> None:
        if generation != self._generation:
            return
        self.conversions, self.existing = result
        self._set_busy(False)
        ready = sum(c.job is not None for c in self.conversions)
        left = len(self.conversions) - ready
        text = f"{ready} of {len(self.conversions)} jobs can be imported."
        if left:
            text += f" {left} cannot (greyed; select one to see why)."
        text += " Untick the ones to leave out; select a job to read its whole report."
        self._show(text, INFO_STYLE if ready else ERR_STYLE)
        self._fill()
        if self.conversions and not self.table.selectedItems():
            self.table.selectRow(0)
        self.loaded.emit(bool(ready), text)

    def _loaded_error(self, generation: int, exc: Exception) -> None:
        if generation != self._generation:
            return
        self.conversions = []
        self._set_busy(False)
        self._fill()
        self._show(str(exc), ERR_STYLE)
        self.loaded.emit(False, str(exc))

    # ---- the table -----------------------------------------------------------------------------

    def _fill(self) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.conversions))
        replace = self.replace.isChecked()
        for row, conversion in enumerate(self.conversions):
            exists = conversion.name in self.existing
            tick = QTableWidgetItem()
            cells = (conversion.name, becomes(conversion, exists, replace), not_converted(conversion))
            if conversion.job is None:
                tick.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                tick.setCheckState(Qt.CheckState.Unchecked)
                tick.setToolTip("This job cannot be imported: see why below")
            else:
                tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled
                              | Qt.ItemFlag.ItemIsSelectable)
                ticked = self.ticks.get(conversion.name, not exists or replace)
                tick.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
            self.table.setItem(row, 0, tick)
            for column, value in enumerate(cells, start=1):
                item = QTableWidgetItem(value)
                item.setToolTip(conversion.source if column == 1 else value)
                if conversion.job is None:
                    item.setForeground(self.palette().placeholderText())
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(1)
        self.table.setColumnWidth(BECOMES, min(460, max(200, self.table.sizeHintForColumn(BECOMES))))
        self._show_details()
        self._update_buttons()

    def _item_changed(self, item) -> None:
        if item.column() == 0 and item.row() < len(self.conversions):
            self.ticks[self.conversions[item.row()].name] = item.checkState() == Qt.CheckState.Checked
        self._update_buttons()

    def _replace_toggled(self, _on: bool) -> None:
        for name in self.existing:
            self.ticks.pop(name, None)
        self._fill()

    def _show_details(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.conversions):
            self.details.clear()
            return
        c = self.conversions[rows[0].row()]
        exists = c.name in self.existing
        lines = [f"{c.name}  ({c.source})", f"becomes: {becomes(c, exists, self.replace.isChecked(), full=True)}", ""]
        lines += [f"converted: {line}" for line in c.converted] or ["converted: nothing"]
        lines += [""] + ([f"NOT converted: {line}" for line in c.not_converted] or ["NOT converted: nothing"])
        self.details.setPlainText("\n".join(lines))

    def ticked(self) -> list[JobConversion]:
        return [c for row, c in enumerate(self.conversions)
                if c.job is not None and self.table.item(row, 0) is not None
                and self.table.item(row, 0).checkState() == Qt.CheckState.Checked]

    def set_ticked(self, names: list[str]) -> None:
        for row, conversion in enumerate(self.conversions):
            if conversion.job is not None:
                state = Qt.CheckState.Checked if conversion.name in names else Qt.CheckState.Unchecked
                self.table.item(row, 0).setCheckState(state)

    # ---- importing -----------------------------------------------------------------------------

    def prepare(self, chosen: list[JobConversion]) -> None:
        """Last settings applied to the chosen jobs on the GUI thread (a subclass's targets)."""

    def run_import(self) -> None:
        chosen = self.ticked()
        if not chosen or self.busy:
            return
        try:
            self.prepare(chosen)
        except LabDeckError as exc:
            self._finish_import(None, str(exc))
            return
        kept = [c.name for c in chosen if c.name in self.existing and not self.replace.isChecked()]
        if kept:
            self._finish_import(None, f"nothing was imported: {', '.join(kept)} already exist; tick Replace to "
                                      "overwrite them, or untick them")
            return
        catalog, replace = self.engine.catalog, self.replace.isChecked()
        self._set_busy(True, f"Importing {len(chosen)} jobs…")

        def work():
            check = [dataclasses.replace(c, converted=[], not_converted=[]) for c in chosen]
            check_conversions(catalog, check)   # the catalog may have changed since the file was read
            refused = [f"{c.name}: {c.not_converted[-1].removeprefix('not imported: ')}"
                       for c in check if c.job is None]
            if refused:
                raise InvalidInput("nothing was imported: " + "; ".join(refused))
            return commit(catalog, chosen, replace=replace)
        run_async(work, lambda result: self._finish_import(result, ""),
                  lambda exc: self._finish_import(None, str(exc)))

    def _finish_import(self, result, error: str) -> None:
        self._set_busy(False)
        if result is None:
            self._show(error, ERR_STYLE)
            self.importFailed.emit(error)
            return
        names, schedules = result
        self._show(f"Imported {len(names)} jobs with {schedules} schedules: {', '.join(names)}.", OK_STYLE)
        self._mark_imported(names)

    # ---- state ---------------------------------------------------------------------------------

    def _update_buttons(self) -> None:
        ticked = self.ticked()
        self.import_button.setEnabled(not self.busy and bool(ticked))
        self.import_button.setText(f"Import {len(ticked)} jobs" if ticked else "Import")
        ready = sum(c.job is not None for c in self.conversions)
        self.summary.setText(f"{len(self.conversions)} in the file · {ready} can be imported · {len(ticked)} ticked")
