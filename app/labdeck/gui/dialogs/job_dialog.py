"""JobDialog: create or edit a job — name, targets with a live preview of the matching nodes,
steps (a command line, or a script in a code editor with line numbers), options, timeout,
retries and max parallel nodes. Errors show inside the dialog; nothing is saved until valid."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import LabDeckError
from ...core.job_plan import Plan
from ...core.models import DEFAULT_PROJECT, Job, JobOption, JobPolicy, Step, StepKind, check_project_name
from ...core.targets import resolve_targets
from ...engine.api import EngineApi
from ...store.projects import project_names
from ..status_style import plural
from ..widgets.code_editor import CodeEditor
from .node_dialog import ERR_STYLE

OPTION_COLUMNS = ["Name", "Default", "Description", "Required"]
LAUNCH_CHOICES = [("auto", "auto (detached when the timeout is over 5 min)"),
                  ("detached", "detached (survives LabDeck and the network)"),
                  ("attached", "attached (ends with the connection)")]


_BODY_PAGE = {StepKind.COMMAND: 0, StepKind.SCRIPT: 1, StepKind.PUT: 2, StepKind.GET: 2, StepKind.JOB: 3}


def _pairs(text: str) -> dict[str, str]:
    """'a=1, b=${option.x}' -> {'a': '1', 'b': '${option.x}'}; a piece without '=' is ignored
    until it gets one (the field is edited a character at a time)."""
    pairs = {}
    for piece in text.split(","):
        key, sep, value = piece.partition("=")
        if sep and key.strip():
            pairs[key.strip()] = value.strip()
    return pairs

class JobDialog(QDialog):
    saved = Signal(str)

    def __init__(self, engine: EngineApi, job: Job | None = None, parent: QWidget | None = None,
                 default_project: str | None = None):
        super().__init__(parent)
        self.engine = engine
        self.original = job
        self.steps: list[Step] = [Step(**vars(s)) for s in job.steps] if job else [Step(name="step 1")]
        self._loading = False
        self.setWindowTitle(f"Edit job {job.name}" if job else "New job")
        self.resize(860, 640)

        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. generate-training-data")
        self.description = QLineEdit()
        self.project = QComboBox()
        self.project.setEditable(True)  # pick a project or type a new one
        self.project.addItems(project_names(engine.catalog))
        self.project.setCurrentText(job.project if job else default_project or DEFAULT_PROJECT)
        self.project.setToolTip("Jobs belong to a project; nodes are shared by all projects")
        self.targets = QLineEdit("all")
        self.targets.setToolTip("Node names and tags: all · gpu-01,gpu-02 · tag:gpu · tag:gpu&tag:linux · all,!slow-pc")
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        # Two lines, always: a preview that grows and shrinks as you type moved the Steps section
        # under the mouse. What does not fit is in the tooltip.
        self.preview.setFixedHeight(self.preview.fontMetrics().lineSpacing() * 2 + 2)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.targets.textChanged.connect(self.update_preview)
        head = QFormLayout()
        head.addRow("Name", self.name)
        head.addRow("Description", self.description)
        head.addRow("Project", self.project)
        head.addRow("Targets", self.targets)
        head.addRow("", self.preview)

        # steps: list on the left, editor on the right
        self.step_list = QListWidget()
        self.step_list.currentRowChanged.connect(self._show_step)
        add_step = QPushButton("+ Step")
        add_step.clicked.connect(self.add_step)
        del_step = QPushButton("− Step")
        del_step.clicked.connect(self.remove_step)
        left = QVBoxLayout()
        left.addWidget(self.step_list, 1)
        row = QHBoxLayout()
        row.addWidget(add_step)
        row.addWidget(del_step)
        left.addLayout(row)
        left_w = QWidget()
        left_w.setLayout(left)

        self.step_name = QLineEdit()
        self.step_kind = QComboBox()
        self.step_kind.addItems([k.value for k in (StepKind.COMMAND, StepKind.SCRIPT, StepKind.PUT, StepKind.GET,
                                                   StepKind.JOB)])
        self.command = QLineEdit()
        self.command.setPlaceholderText("shell command; options as ${option.NAME}")
        self.command.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.script = CodeEditor()
        self.script.setPlaceholderText("#!/bin/sh\n# uploaded to the node as a file and run there")
        self.filename = QLineEdit("script.sh")
        self.filename.setToolTip("Its extension picks the interpreter: .sh, .py, .ps1, .bat")
        self.body = QStackedWidget()
        cmd_page = QWidget()
        cl = QVBoxLayout(cmd_page)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.command)
        cl.addStretch(1)
        script_page = QWidget()
        sl = QVBoxLayout(script_page)
        sl.setContentsMargins(0, 0, 0, 0)
        fl = QHBoxLayout()
        fl.addWidget(QLabel("File name"))
        fl.addWidget(self.filename)
        sl.addLayout(fl)
        sl.addWidget(self.script, 1)
        self.source = QLineEdit()
        self.source.setPlaceholderText("put: local file or folder · get: remote path or glob; ${node.name} allowed")
        self.destination = QLineEdit()
        self.destination.setPlaceholderText("put: folder on the node · get: local folder (one subfolder per node)")
        transfer_page = QWidget()
        tl = QFormLayout(transfer_page)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addRow("From", self.source)
        tl.addRow("To", self.destination)
        self.ref_job = QComboBox()  # a job step: the job it runs (its run is a child of this job's run)
        self.ref_job.setEditable(True)
        self.ref_job.addItems([j.name for j in engine.catalog.list_jobs() if not job or j.name != job.name])
        self.ref_targets = QLineEdit()
        self.ref_targets.setPlaceholderText("its own targets")
        self.ref_options = QLineEdit()
        self.ref_options.setPlaceholderText("name=value, name2=${option.NAME}")
        job_page = QWidget()
        jl = QFormLayout(job_page)
        jl.setContentsMargins(0, 0, 0, 0)
        jl.addRow("Job", self.ref_job)
        jl.addRow("Targets", self.ref_targets)
        jl.addRow("Options", self.ref_options)
        self.body.addWidget(cmd_page)
        self.body.addWidget(script_page)
        self.body.addWidget(transfer_page)
        self.body.addWidget(job_page)
        right = QFormLayout()
        right.addRow("Step name", self.step_name)
        right.addRow("Kind", self.step_kind)
        right_w = QWidget()
        rv = QVBoxLayout(right_w)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addLayout(right)
        rv.addWidget(self.body, 1)
        for signal in (self.step_name.textChanged, self.command.textChanged, self.script.textChanged,
                       self.filename.textChanged, self.step_kind.currentTextChanged, self.source.textChanged,
                       self.destination.textChanged, self.ref_job.currentTextChanged, self.ref_targets.textChanged,
                       self.ref_options.textChanged):
            signal.connect(self._store_step)
        split = QSplitter()
        split.addWidget(left_w)
        split.addWidget(right_w)
        split.setSizes([200, 640])
        steps_box = QGroupBox("Steps (run in order; a failing step stops the node run)")
        QVBoxLayout(steps_box).addWidget(split)

        # options and policy
        self.options = QTableWidget(0, len(OPTION_COLUMNS))
        self.options.setHorizontalHeaderLabels(OPTION_COLUMNS)
        self.options.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.options.verticalHeader().hide()
        self.options.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        add_opt = QPushButton("+ Option")
        add_opt.clicked.connect(lambda: self.add_option())
        del_opt = QPushButton("− Option")
        del_opt.clicked.connect(lambda: self.options.removeRow(self.options.currentRow()))
        ob = QVBoxLayout()
        ob.addWidget(self.options)
        orow = QHBoxLayout()
        orow.addWidget(add_opt)
        orow.addWidget(del_opt)
        orow.addStretch(1)
        ob.addLayout(orow)
        opt_box = QGroupBox("Options (reach commands as ${option.NAME} and LABDECK_OPTION_NAME)")
        opt_box.setLayout(ob)

        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(0, 30 * 86400)
        self.timeout.setDecimals(0)
        self.timeout.setSuffix(" s")
        self.timeout.setSpecialValueText("none")
        self.retries = QSpinBox()
        self.retries.setRange(0, 20)
        self.max_parallel = QSpinBox()
        self.max_parallel.setRange(0, 1000)
        self.max_parallel.setSpecialValueText("all nodes")
        self.launch = QComboBox()
        for mode, text in LAUNCH_CHOICES:
            self.launch.addItem(text, mode)
        self.launch.setToolTip("Detached commands run on under a launcher on the node: they survive LabDeck "
                               "closing, this PC restarting or the network dropping, and LabDeck re-attaches.")
        policy = QFormLayout()
        policy.addRow("Timeout per node", self.timeout)
        policy.addRow("Launch", self.launch)
        policy.addRow("Retries", self.retries)
        policy.addRow("Max parallel", self.max_parallel)
        pol_box = QGroupBox("Policy")
        pol_box.setLayout(policy)
        bottom = QHBoxLayout()
        bottom.addWidget(opt_box, 3)
        bottom.addWidget(pol_box, 1)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(ERR_STYLE)
        self.message.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(steps_box, 3)
        layout.addLayout(bottom, 2)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        if job:
            self._load(job)
        self._reload_steps(0)
        self.update_preview()

    # ---- loading ------------------------------------------------------------------------------------

    def _load(self, job: Job) -> None:
        self.name.setText(job.name)
        self.description.setText(job.description)
        self.targets.setText(job.targets)
        for o in job.options:
            self.add_option(o)
        self.timeout.setValue(job.policy.timeout_s or 0)
        self.retries.setValue(job.policy.retries)
        self.max_parallel.setValue(job.policy.max_parallel)
        self.launch.setCurrentIndex(max(0, self.launch.findData(job.policy.launch)))

    def add_option(self, option: JobOption | None = None) -> None:
        row = self.options.rowCount()
        self.options.insertRow(row)
        o = option or JobOption(name="")
        for col, text in enumerate((o.name, o.default, o.description)):
            self.options.setItem(row, col, QTableWidgetItem(text))
        box = QCheckBox()
        box.setChecked(o.required)
        self.options.setCellWidget(row, 3, box)

    def update_preview(self) -> None:
        spec = self.targets.text()
        try:
            nodes = resolve_targets(spec, self.engine.catalog.list_nodes(), allow_empty=True)
        except LabDeckError as exc:
            self.preview.setText(f"<span style='color:#c62828'>{exc}</span>")
            self.preview.setToolTip(str(exc))
            return
        if not nodes:
            self.preview.setText("<span style='color:#ef6c00'>matches no node yet</span>")
            self.preview.setToolTip("")
        else:
            names = ", ".join(n.name for n in nodes)
            shown = names if len(names) <= 160 else names[:157] + "…"
            self.preview.setText(f"<span style='color:#2e7d32'>{plural(len(nodes), 'node')}:</span> " + shown)
            self.preview.setToolTip(names)

    # ---- steps ----------------------------------------------------------------------------------------

    def _reload_steps(self, select: int) -> None:
        self.step_list.blockSignals(True)
        self.step_list.clear()
        for i, s in enumerate(self.steps, 1):
            self.step_list.addItem(f"{i}. {s.name or s.kind.value}")
        self.step_list.blockSignals(False)
        self.step_list.setCurrentRow(min(select, len(self.steps) - 1))
        self._show_step(self.step_list.currentRow())

    def _show_step(self, row: int) -> None:
        if row < 0 or row >= len(self.steps):
            return
        s = self.steps[row]
        self._loading = True
        self.step_name.setText(s.name)
        self.step_kind.setCurrentText(s.kind.value)
        self.command.setText(s.command)
        self.script.setPlainText(s.script)
        self.filename.setText(s.filename)
        self.source.setText(s.source)
        self.destination.setText(s.destination)
        self.ref_job.setCurrentText(s.job)
        self.ref_targets.setText(s.targets)
        self.ref_options.setText(", ".join(f"{k}={v}" for k, v in s.options.items()))
        self.body.setCurrentIndex(_BODY_PAGE[s.kind])
        self._loading = False

    def _store_step(self, *_args) -> None:
        row = self.step_list.currentRow()
        if self._loading or row < 0:
            return
        s = self.steps[row]
        s.name = self.step_name.text()
        s.kind = StepKind(self.step_kind.currentText())
        s.command = self.command.text()
        s.script = self.script.toPlainText()
        s.filename = self.filename.text().strip() or "script.sh"
        s.source = self.source.text().strip()
        s.destination = self.destination.text().strip()
        s.job = self.ref_job.currentText().strip()
        s.targets = self.ref_targets.text().strip()
        s.options = _pairs(self.ref_options.text())
        self.body.setCurrentIndex(_BODY_PAGE[s.kind])
        self.step_list.item(row).setText(f"{row + 1}. {s.name or s.kind.value}")

    def add_step(self) -> None:
        self.steps.append(Step(name=f"step {len(self.steps) + 1}"))
        self._reload_steps(len(self.steps) - 1)

    def remove_step(self) -> None:
        row = self.step_list.currentRow()
        if len(self.steps) > 1 and row >= 0:
            del self.steps[row]
            self._reload_steps(row)

    # ---- saving -------------------------------------------------------------------------------------

    def job_from_fields(self) -> Job:
        name = self.name.text().strip()
        if not name:
            raise ValueError("give the job a name")
        steps = [Step(**vars(s)) for s in self.steps]
        for i, s in enumerate(steps, 1):
            if s.kind is StepKind.JOB:
                if not s.job:
                    raise ValueError(f"step {i} runs a job: choose which")
            elif s.kind in (StepKind.PUT, StepKind.GET):
                if not (s.source and s.destination):
                    raise ValueError(f"step {i} ({s.kind.value}) needs both From and To")
            elif not (s.command.strip() if s.kind is StepKind.COMMAND else s.script.strip()):
                raise ValueError(f"step {i} is empty: type a command or a script")
        resolve_targets(self.targets.text(), self.engine.catalog.list_nodes(), allow_empty=True)
        options = []
        for row in range(self.options.rowCount()):
            cells = [(self.options.item(row, c).text().strip() if self.options.item(row, c) else "") for c in range(3)]
            if not cells[0]:
                continue
            kept = {o.name: o.choices for o in self.original.options} if self.original else {}
            options.append(JobOption(name=cells[0], default=cells[1], description=cells[2],
                                     required=self.options.cellWidget(row, 3).isChecked(),
                                     choices=kept.get(cells[0], [])))  # allowed values: not edited here, kept
        # What this dialog does not show (the other rules, a workflow or array plan) is kept.
        policy = replace(self.original.policy if self.original else JobPolicy(),
                         timeout_s=self.timeout.value() or None, retries=self.retries.value(),
                         max_parallel=self.max_parallel.value(), launch=self.launch.currentData())
        return Job(name=name, steps=steps, targets=self.targets.text().strip(), options=options, policy=policy,
                   description=self.description.text().strip(),
                   plan=self.original.plan if self.original else Plan(),
                   project=check_project_name(self.project.currentText()))

    def save(self) -> None:
        try:
            job = self.job_from_fields()
            catalog = self.engine.catalog
            renamed = self.original is not None and self.original.name != job.name
            catalog.add_job(job, replace=self.original is not None and not renamed)
            if renamed:
                catalog.remove_job(self.original.name)
        except (LabDeckError, ValueError) as exc:
            self.message.setText(str(exc))
            self.message.show()
            return
        self.saved.emit(job.name)
        self.accept()
