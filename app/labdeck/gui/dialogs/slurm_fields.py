"""The Slurm part of the node dialog: the partition and account batch jobs go to, and extra
sbatch arguments (written as on a command line; each one validated like ``--sbatch-arg``)."""

from __future__ import annotations

import shlex

from PySide6.QtWidgets import QFormLayout, QLineEdit, QWidget

from ...core.errors import InvalidInput
from ...core.models import SlurmSettings


class SlurmFields(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.partition = QLineEdit()
        self.partition.setPlaceholderText("the cluster's default partition")
        self.account = QLineEdit()
        self.account.setPlaceholderText("your default account")
        self.sbatch_args = QLineEdit()
        self.sbatch_args.setPlaceholderText("e.g. --qos=short --constraint=avx2")
        self.sbatch_args.setToolTip("More sbatch options for every batch job LabDeck submits to this cluster")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Partition", self.partition)
        form.addRow("Account", self.account)
        form.addRow("sbatch options", self.sbatch_args)

    def load(self, settings: SlurmSettings) -> None:
        self.partition.setText(settings.partition)
        self.account.setText(settings.account)
        self.sbatch_args.setText(" ".join(shlex.quote(a) for a in settings.sbatch_args))

    def settings(self) -> SlurmSettings:
        try:
            args = shlex.split(self.sbatch_args.text())
        except ValueError as exc:
            raise InvalidInput(f"sbatch options: {exc}") from None
        return SlurmSettings(partition=self.partition.text().strip(), account=self.account.text().strip(),
                             sbatch_args=args)
