"""Small run dialogs: option values before a run (defaults filled in), and "run a job or a
command on the selected nodes"."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ...core.models import Job


class OptionsDialog(QDialog):
    def __init__(self, job: Job, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Run {job.name}")
        self.edits: dict[str, QLineEdit] = {}
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Option values for <b>{job.name}</b> (defaults filled in):"))
        form = QFormLayout()
        for option in job.options:
            edit = QLineEdit(option.default)
            edit.setToolTip(option.description or option.name)
            edit.setPlaceholderText("required" if option.required else "")
            self.edits[option.name] = edit
            form.addRow(option.name + (" *" if option.required else ""), edit)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    def values(self) -> dict[str, str]:
        return {name: edit.text() for name, edit in self.edits.items()}


class RunOnNodesDialog(QDialog):
    """Pick a job (mode "job") or type a command (mode "command") for the selected nodes."""

    def __init__(self, job_names: list[str], nodes: list[str], mode: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.mode = mode
        self.setWindowTitle("Run job on selected nodes" if mode == "job" else "Run command on selected nodes")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Nodes: <b>{', '.join(nodes)}</b>"))
        form = QFormLayout()
        self.job = QComboBox()
        self.job.addItems(job_names)
        self.command = QLineEdit()
        self.command.setPlaceholderText("e.g. nvidia-smi; df -h")
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(0, 7 * 86400)
        self.timeout.setValue(0)
        self.timeout.setSuffix(" s")
        self.timeout.setSpecialValueText("no timeout")
        if mode == "job":
            form.addRow("Job", self.job)
        else:
            form.addRow("Command", self.command)
            form.addRow("Timeout", self.timeout)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)
