"""The Jobs page's "Import jobs…": jobs from a Rundeck export (``rd jobs list -F yaml`` or the
XML ``<joblist>``), with a project, targets and a time zone for all of them if the user wants
(the CLI's --project, --targets and --tz). The rest is the common JobImportDialog."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel, QLineEdit, QWidget

from ...core.errors import LabDeckError
from ...importers.rundeck_convert import JobConversion
from .job_import_dialog import JobImportDialog


class RundeckImportDialog(JobImportDialog):
    """Jobs from a Rundeck export (``rd jobs list -F yaml`` or the XML ``<joblist>``)."""

    title = "Import jobs from Rundeck"
    placeholder = "a Rundeck job export: jobs.yaml or jobs.xml (rd jobs list -F yaml|xml)"
    file_filter = "Rundeck job exports (*.yaml *.yml *.xml);;All files (*)"
    targets_hint = "or give every job its Targets above"

    def __init__(self, engine, parent: QWidget | None = None, default_project: str | None = None):
        super().__init__(engine, parent)
        self.project = QLineEdit(default_project or "")
        self.project.setPlaceholderText("each job's Rundeck group")
        self.project.setToolTip("Put every job in this project (empty: the project is the job's Rundeck group)")
        self.targets = QLineEdit()
        self.targets.setPlaceholderText("converted from each job's node filter")
        self.targets.setToolTip("Run every job on these targets (node names, tag:NAME, all) instead of converting "
                                "Rundeck's node filters")
        self.tz = QLineEdit("UTC")
        self.tz.setMaximumWidth(160)
        self.tz.setToolTip("Time zone of schedules whose job names none")
        for label, widget in (("Project:", self.project), ("Targets:", self.targets), ("Time zone:", self.tz)):
            self.options.addWidget(QLabel(label))
            self.options.addWidget(widget, 0 if widget is self.tz else 1)
        for field in (self.project, self.targets, self.tz):
            field.editingFinished.connect(self._settings_changed)

    def _settings_changed(self) -> None:
        try:
            changed = self.reading_settings() != self.last_settings
        except LabDeckError:
            changed = True
        if self.paths() and changed:
            self.load()

    def reading_settings(self):
        from ...core.schedules import parse_tz
        from ...importers.rundeck import Overrides

        tz = self.tz.text().strip() or "UTC"
        parse_tz(tz)
        return Overrides(project=self.project.text().strip() or None, targets=self.targets.text().strip() or None,
                         tz=tz)

    def read_with(self, paths: list[Path], settings) -> list[JobConversion]:
        from ...importers.rundeck import parse_rundeck

        conversions: list[JobConversion] = []
        for path in paths:
            conversions += parse_rundeck(path, settings)
        return conversions
