"""The Schedules page's "Import from Task Scheduler…": one or more tasks exported from Windows
Task Scheduler (``schtasks /query /xml /tn NAME``, UTF-16) become jobs with their schedules.

The tasks' command lines are cmd's, so the Windows targets are chosen from the catalog's
WinRM nodes whose shell is cmd (the others are listed greyed with the reason). The rest is
the common JobImportDialog: preview, report, all-or-nothing import, nothing on the GUI thread
that could block it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QListWidget, QListWidgetItem, QWidget

from ...core.errors import InvalidInput, LabDeckError
from ...core.models import Transport
from ...engine.job_import import windows_targets
from ...importers.rundeck_convert import JobConversion
from .job_import_dialog import JobImportDialog
from .schedule_dialog import local_zone_name


class TaskSchedulerImportDialog(JobImportDialog):
    title = "Import from Task Scheduler"
    placeholder = "tasks exported with schtasks /query /xml /tn NAME > task.xml (pick one or several)"
    file_filter = "Task Scheduler tasks (*.xml);;All files (*)"
    pick_many = True

    def __init__(self, engine, parent: QWidget | None = None):
        super().__init__(engine, parent)
        self.nodes = QListWidget()
        self.nodes.setMaximumHeight(84)
        self.nodes.setToolTip("The Windows PCs the tasks run on (WinRM nodes whose command steps run in cmd)")
        self.nodes.itemChanged.connect(lambda _item: self._targets_changed())
        self.tz = QLineEdit(local_zone_name())
        self.tz.setMaximumWidth(170)
        self.tz.setToolTip("The PCs' time zone, for start times written without an offset")
        self.tz.editingFinished.connect(self._tz_changed)
        self.project = QLineEdit()
        self.project.setPlaceholderText("default")
        self.project.setMaximumWidth(170)
        self.project.editingFinished.connect(self._tz_changed)
        self.options.addWidget(QLabel("Run on:"))
        self.options.addWidget(self.nodes, 1)
        self.options.addWidget(QLabel("Time zone:"))
        self.options.addWidget(self.tz)
        self.options.addWidget(QLabel("Project:"))
        self.options.addWidget(self.project)
        self._fill_nodes()

    def _fill_nodes(self) -> None:
        self.nodes.blockSignals(True)
        self.nodes.clear()
        for node in self.engine.catalog.list_nodes():
            if node.transport is not Transport.WINRM:
                continue
            item = QListWidgetItem(node.name + (f"  ({', '.join(node.tags)})" if node.tags else ""))
            item.setData(Qt.ItemDataRole.UserRole, node.name)
            if node.winrm.shell == "cmd":
                item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
                item.setCheckState(Qt.CheckState.Unchecked)
            else:
                item.setText(f"{node.name}: runs PowerShell, not cmd (set its shell to cmd to use it)")
                item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.nodes.addItem(item)
        if self.nodes.count() == 0:
            item = QListWidgetItem("No Windows (WinRM) node yet: add one on the Nodes page first")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.nodes.addItem(item)
        self.nodes.blockSignals(False)

    def chosen_nodes(self) -> list[str]:
        return [self.nodes.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.nodes.count())
                if self.nodes.item(i).checkState() == Qt.CheckState.Checked
                and self.nodes.item(i).data(Qt.ItemDataRole.UserRole)]

    def set_nodes(self, names: list[str]) -> None:
        for i in range(self.nodes.count()):
            item = self.nodes.item(i)
            if item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
                item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in names
                                   else Qt.CheckState.Unchecked)

    def targets(self) -> str:
        return ",".join(self.chosen_nodes())

    def _targets_changed(self) -> None:
        """The targets show in the preview at once; the files need not be read again."""
        for conversion in self.conversions:
            if conversion.job is not None:
                conversion.job.targets = self.targets() or "(choose the PCs above)"
        self._fill()

    def _tz_changed(self) -> None:
        if self.paths() and self.reading_settings_safe() != self.last_settings:
            self.load()

    def reading_settings_safe(self):
        try:
            return self.reading_settings()
        except LabDeckError:
            return None

    def reading_settings(self):
        from ...core.schedules import parse_tz

        tz = self.tz.text().strip() or "UTC"
        parse_tz(tz)
        return tz, self.project.text().strip() or None

    def read_with(self, paths: list[Path], settings) -> list[JobConversion]:
        from ...importers.taskscheduler import parse_task

        tz, project = settings
        # "all" only while the file is checked: the PCs are chosen in the dialog and may change before Import
        return [parse_task(path, "all", tz, None, project) for path in paths]

    def _loaded(self, generation: int, result) -> None:
        conversions, existing = result
        for conversion in conversions:
            if conversion.job is not None:
                conversion.job.targets = self.targets() or "(choose the PCs above)"
        super()._loaded(generation, (conversions, existing))

    def prepare(self, chosen: list[JobConversion]) -> None:
        spec = self.targets()
        if not spec:
            raise InvalidInput("nothing was imported: tick the Windows PCs the tasks run on (Run on)")
        windows_targets(self.engine.catalog, spec, "Run on")
        for conversion in chosen:
            if conversion.job is not None:
                conversion.job.targets = spec
