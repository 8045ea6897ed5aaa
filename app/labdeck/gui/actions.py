"""Actions shared by the pages: start a job (asking for option values first), run a command,
cancel, re-run failed nodes. Results and errors go out as signals, so no page ever blocks
on a modal box and the main window decides how to show them."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from ..core.errors import LabDeckError
from ..core.models import Trigger
from ..engine.api import EngineApi
from .dialogs.run_dialogs import OptionsDialog
from .engine_calls import call_engine


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
        def started(run) -> None:
            self.info.emit(f"Started {job_name} — run #{run.id}")
            self.runLaunched.emit(run.id)

        self._call(lambda: self.engine.start_job(job_name, options, Trigger.MANUAL, targets=targets), started,
                   f"Cannot start {job_name}: ")

    def run_command(self, command: str, targets: str, timeout_s: float | None) -> None:
        self._call(lambda: self.engine.start_command(command, targets, timeout_s, trigger=Trigger.MANUAL),
                   lambda run: self.runLaunched.emit(run.id), "Cannot run the command: ")

    def cancel(self, run_id: int, node: str | None = None) -> None:
        self._call(lambda: self.engine.cancel(run_id, node),
                   lambda _: self.info.emit(f"Cancelling run #{run_id}" + (f" on {node}" if node else "")))

    def rerun_failed(self, run_id: int) -> None:
        self._call(lambda: self.engine.rerun_failed(run_id), lambda run: self.runLaunched.emit(run.id))

    def _call(self, fn, on_done, failure: str = "") -> None:
        """The engine call off the GUI thread (it may cross to the engine process, which can be
        busy); its result, or its failure in one line, comes back as a signal."""
        call_engine(fn, on_done, self.error.emit, failure)
