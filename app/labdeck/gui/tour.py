"""The first-start tour: three short steps over the main window (nodes, jobs, a run), each
showing its page; Next, Back or Skip. Shown once per data folder (setting ``gui.tour_done``);
Help > Show the tour again brings it back."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

TOUR_KEY = "gui.tour_done"

STEPS = [  # (page index, title, text)
    (0, "1 of 3 · Your machines",
     "Every machine of the lab is a node. Add yours with <b>Add…</b> (SSH for Linux, WinRM for Windows). "
     "The bars show CPU, memory, disk and GPU use, the small lines their last hour; select a node for its day."),
    (1, "2 of 3 · Jobs",
     "A job is what to run (a command or a script) and where (all nodes, some, or a tag such as "
     "<code>tag:gpu</code>). Try <b>Run the sample job</b>: it says hello from every node."),
    (2, "3 of 3 · Runs",
     "A run shows each node live: status, progress, its log. The <b>Timeline</b> tab draws the run on a time "
     "axis; click a bar for that node's log. Every run stays in <b>History</b>."),
]


class Tour(QFrame):
    finished = Signal()

    def __init__(self, window):
        super().__init__(window)
        self.window_ = window
        self.step = 0
        self.setObjectName("tour")
        self.setStyleSheet("#tour { background: palette(tool-tip-base); border: 1px solid palette(highlight);"
                           " border-radius: 8px; }")
        self.title = QLabel()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.back = QPushButton("Back")
        self.next = QPushButton("Next")
        self.skip = QPushButton("Skip the tour")
        self.back.clicked.connect(lambda: self.go(self.step - 1))
        self.next.clicked.connect(lambda: self.go(self.step + 1))
        self.skip.clicked.connect(self.done)
        row = QHBoxLayout()
        row.addWidget(self.skip)
        row.addStretch(1)
        row.addWidget(self.back)
        row.addWidget(self.next)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addLayout(row)
        self.setFixedWidth(380)
        self.go(0)

    def go(self, step: int) -> None:
        if step >= len(STEPS):
            return self.done()
        self.step = max(0, step)
        page, title, text = STEPS[self.step]
        self.window_.show_page(page)
        self.title.setText(f"<b>{title}</b>")
        self.text.setText(text)
        self.back.setEnabled(self.step > 0)
        self.next.setText("Done" if self.step == len(STEPS) - 1 else "Next")
        self.adjustSize()
        self.place()
        self.show()
        self.raise_()

    def place(self) -> None:
        area = self.window_.centralWidget().geometry()
        self.move(area.right() - self.width() - 16, area.bottom() - self.height() - 16)

    def done(self) -> None:
        self.window_.engine.catalog.set_setting(TOUR_KEY, "1")
        self.hide()
        self.finished.emit()
        self.deleteLater()
