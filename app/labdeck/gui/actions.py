"""Actions shared by the pages: start a job (asking for option values first), run a command,
cancel, re-run failed nodes. Results and errors go out as signals, so no page ever blocks
on a modal box and the main window decides how to show them."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from ..core.errors import LabDeckError
from ..core.models import Trigger
from .dialogs.run_dialogs import OptionsDialog
from ..engine.api import EngineApi


def ask_yes_no(parent: QWidget, title: str, text: str) -> bool:
    """Default confirmation (a modal question); pages keep it in ``self.confirm`` so tests can swap it."""
    answer = QMessageBox.question(parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


class Actions(QObject):
    runLaunched = Signal(int)     # run id
    error = Signal(str)
    info = Signal(str)

    def __init__(self, engine: EngineApi, parent: QObject | None = None):
        super().__init__(parent)
        self.engine = engine
        self.dialog: OptionsDialog | None = None   # the open options dialog, if any (tests use it)

    def launch_job(self, parent: QWidget, job_name: str, targets: str | None = None) -> None:
        try:
            job = self.engine.catalog.get_job(job_name)
        except LabDeckError as exc:
            return self.error.emit(str(exc))
        if not job.options:
            return self._start(job_name, {}, targets)
        dialog = OptionsDialog(job, parent)
        self.dialog = dialog
        dialog.accepted.connect(lambda: self._start(job_name, dialog.values(), targets))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _start(self, job_name: str, options: dict, targets: str | None) -> None:
        try:
            run = self.engine.start_job(job_name, options, Trigger.MANUAL, targets=targets)
        except LabDeckError as exc:
            return self.error.emit(f"Cannot start {job_name}: {exc}")
        self.info.emit(f"Started {job_name} — run #{run.id}")
        self.runLaunched.emit(run.id)

    def run_command(self, command: str, targets: str, timeout_s: float | None) -> None:
        try:
            run = self.engine.start_command(command, targets, timeout_s, trigger=Trigger.MANUAL)
        except LabDeckError as exc:
            return self.error.emit(f"Cannot run the command: {exc}")
        self.runLaunched.emit(run.id)

    def cancel(self, run_id: int, node: str | None = None) -> None:
        try:
            self.engine.cancel(run_id, node)
        except LabDeckError as exc:
            return self.error.emit(str(exc))
        self.info.emit(f"Cancelling run #{run_id}" + (f" on {node}" if node else ""))

    def rerun_failed(self, run_id: int) -> None:
        try:
            run = self.engine.rerun_failed(run_id)
        except LabDeckError as exc:
            return self.error.emit(str(exc))
        self.runLaunched.emit(run.id)
