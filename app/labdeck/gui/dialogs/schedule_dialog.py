"""ScheduleDialog: add or edit one schedule of a job — cron with an IANA time zone, an interval,
or a one-off time; enabled; the catch-up policy — with a live preview of the next fire times in
the schedule's zone and in local time. Times that fall in a daylight-saving gap or repeat are
marked with a warning (core.schedules.preview decides). Bad input shows the engine's own
message inline and Save stays disabled until it is fixed.

The preview's reference time is injectable (``set_reference_time``, or the "Preview from"
field), so DST behaviour can be checked around any date — and tests are deterministic.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timezone

from PySide6.QtCore import QDateTime, Qt, QTimeZone, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QCompleter, QDateTimeEdit, QDialog,
                               QDialogButtonBox, QFormLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QStackedWidget, QStyle, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                               QWidget)

from ...core.errors import LabDeckError
from ...core.schedules import (CatchUp, Schedule, ScheduleKind, format_duration, parse_at, parse_duration,
                               parse_tz, preview, validate)
from ...store.schedules import ScheduleStore
from .node_dialog import ERR_STYLE
from ...engine.api import EngineApi

UTC = timezone.utc
PREVIEW_COUNT = 10
WARN_COLOR = "#e65100"
WARN_BG = "#fff3e0"
WARN_STYLE = f"background:{WARN_BG}; color:{WARN_COLOR}; border:1px solid #ffcc80; border-radius:4px; padding:6px;"
KIND_LABELS = [(ScheduleKind.CRON, "Cron expression"), (ScheduleKind.INTERVAL, "Interval"),
               (ScheduleKind.DATE, "Once, at a date and time")]
CATCH_UP_LABELS = [(CatchUp.SKIP, "Skip — record and notify missed fires, run nothing"),
                   (CatchUp.ONCE, "Run once — record and notify, then run once at start")]
_ZONES: list[str] | None = None


def all_zones() -> list[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")
    return _ZONES


def local_zone_name() -> str:
    """The IANA name of this computer's zone (UTC when it cannot be told)."""
    candidates = []
    try:
        import tzlocal
        candidates.append(tzlocal.get_localzone_name())
    except Exception:  # noqa: BLE001 - any failure: fall back
        pass
    candidates.append(bytes(QTimeZone.systemTimeZoneId().data()).decode(errors="replace"))
    for name in candidates:
        try:
            if name:
                parse_tz(name)
                return name
        except LabDeckError:
            continue
    return "UTC"


class ZoneCombo(QComboBox):
    """An editable combobox of IANA zones with substring completion; the text is validated by the engine."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.addItems(all_zones())
        self.setMaxVisibleItems(20)
        completer = QCompleter(self.model(), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setCompleter(completer)
        self.setMinimumContentsLength(22)


class ScheduleDialog(QDialog):
    saved = Signal(int)   # the schedule id

    def __init__(self, engine: EngineApi, job_name: str | None = None, schedule: Schedule | None = None,
                 parent: QWidget | None = None, now: datetime | None = None):
        super().__init__(parent)
        self.engine = engine
        self.store = ScheduleStore(engine.catalog)
        self.original = schedule
        self.reference: datetime | None = None    # None: preview from the current time
        self.previews = []                        # the FirePreview list shown
        self.error: str | None = None
        self.setWindowTitle(f"Edit schedule of {schedule.job_name}" if schedule else "New schedule")
        self.resize(820, 600)

        self.job = QComboBox()
        self.job.addItems([j.name for j in engine.catalog.list_jobs()])
        self.kind = QComboBox()
        for kind, label in KIND_LABELS:
            self.kind.addItem(label, kind)

        self.cron = QLineEdit()
        self.cron.setPlaceholderText("minute hour day-of-month month day-of-week, e.g. 30 2 * * 1-5")
        self.cron.setToolTip("Five fields: minute (0-59) hour (0-23) day (1-31) month (1-12 or jan-dec) "
                             "weekday (0-7 or sun-sat; 0 and 7 are Sunday).\nEach field: *, N, N-M, */S, N-M/S "
                             "or a list of them. When both day fields are restricted a day must match both.")
        self.interval = QLineEdit()
        self.interval.setPlaceholderText("e.g. 30s, 5m, 1h30m, 2d")
        self.at = QDateTimeEdit()
        self.at.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        self.at.setCalendarPopup(True)
        self.at.setDateTime(QDateTime.currentDateTime().addSecs(3600))
        self.body = QStackedWidget()
        for widget, hint in ((self.cron, "in the zone below"), (self.interval, "counted from when it is saved"),
                             (self.at, "wall-clock time in the zone below")):
            page = QWidget()
            row = QHBoxLayout(page)
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(widget, 1)
            note = QLabel(hint)
            note.setStyleSheet("color: palette(mid);")
            row.addWidget(note)
            self.body.addWidget(page)
        self.body.setSizePolicy(self.body.sizePolicy().horizontalPolicy(), self.cron.sizePolicy().verticalPolicy())

        self.zone = ZoneCombo()
        self.zone.setToolTip("IANA time zone the schedule's wall-clock times are in; DST changes follow it")
        self.enabled = QCheckBox("Enabled")
        self.enabled.setChecked(True)
        self.catch_up = QComboBox()
        for policy, label in CATCH_UP_LABELS:
            self.catch_up.addItem(label, policy)
        self.catch_up.setToolTip("What happens after fires were missed (LabDeck closed, computer asleep). "
                                 "A missed fire is always recorded in the history and notified.")

        form = QFormLayout()
        form.addRow("Job", self.job)
        form.addRow("Kind", self.kind)
        form.addRow("When", self.body)
        form.addRow("Time zone", self.zone)
        form.addRow("Missed fires", self.catch_up)
        form.addRow("", self.enabled)

        # preview
        self.use_from = QCheckBox("Preview from")
        self.use_from.setToolTip("Check the fire times around another date, e.g. a daylight-saving change")
        self.from_edit = QDateTimeEdit()
        self.from_edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.from_edit.setCalendarPopup(True)
        self.from_edit.setDateTime(QDateTime.currentDateTime())
        self.from_edit.setEnabled(False)
        from_row = QHBoxLayout()
        from_row.addWidget(self.use_from)
        from_row.addWidget(self.from_edit)
        self.from_note = QLabel("(local time; otherwise from now)")
        self.from_note.setStyleSheet("color: palette(mid);")
        from_row.addWidget(self.from_note)
        from_row.addStretch(1)
        self.fires = QTreeWidget()
        self.fires.setRootIsDecorated(False)
        self.fires.setAlternatingRowColors(True)
        self.fires.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.fires.setHeaderLabels(["#", "Schedule's zone", "Local time", "Daylight saving"])
        header = self.fires.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.dst_warning = QLabel()
        self.dst_warning.setWordWrap(True)
        self.dst_warning.setStyleSheet(WARN_STYLE)
        self.dst_warning.hide()
        preview_box = QGroupBox(f"Next {PREVIEW_COUNT} fire times")
        pl = QVBoxLayout(preview_box)
        pl.addLayout(from_row)
        pl.addWidget(self.fires, 1)
        pl.addWidget(self.dst_warning)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(ERR_STYLE)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(preview_box, 1)
        layout.addWidget(self.buttons)

        self._load(job_name, schedule)
        for signal in (self.cron.textChanged, self.interval.textChanged, self.zone.currentTextChanged,
                       self.zone.editTextChanged, self.at.dateTimeChanged, self.kind.currentIndexChanged,
                       self.job.currentTextChanged):
            signal.connect(self.update_preview)
        self.from_edit.dateTimeChanged.connect(self._from_changed)
        self.use_from.toggled.connect(self._from_toggled)
        self.set_reference_time(now)

    # ---- loading --------------------------------------------------------------------------------

    def _load(self, job_name: str | None, s: Schedule | None) -> None:
        if s is None:
            if job_name:
                self.job.setCurrentText(job_name)
            self.zone.setCurrentText(local_zone_name())
            self.cron.setText("0 2 * * *")
            self.interval.setText("1h")
            return
        self.job.setCurrentText(s.job_name)
        self.kind.setCurrentIndex([k for k, _l in KIND_LABELS].index(s.kind))
        self.zone.setCurrentText(s.tz)
        self.enabled.setChecked(s.enabled)
        self.catch_up.setCurrentIndex([c for c, _l in CATCH_UP_LABELS].index(s.catch_up))
        if s.kind is ScheduleKind.CRON:
            self.cron.setText(s.expr)
            self.interval.setText("1h")
        elif s.kind is ScheduleKind.INTERVAL:
            self.interval.setText(format_duration(float(s.expr)))
            self.cron.setText("0 2 * * *")
        else:
            self.cron.setText("0 2 * * *")
            self.interval.setText("1h")
            try:
                when = parse_at(s.expr, s.tz).astimezone(parse_tz(s.tz)).replace(tzinfo=None)
                self.at.setDateTime(QDateTime(when.year, when.month, when.day, when.hour, when.minute, when.second))
            except LabDeckError:
                pass

    # ---- the schedule the fields describe -----------------------------------------------------------

    def selected_kind(self) -> ScheduleKind:
        return ScheduleKind(self.kind.currentData())  # Qt hands a StrEnum back as str

    def schedule_from_fields(self) -> Schedule:
        """The schedule as typed (raises InvalidInput / LabDeckError with the engine's message)."""
        job = self.job.currentText().strip()
        if not job:
            raise LabDeckError("there is no job to schedule yet: create a job first")
        kind = self.selected_kind()
        tz = self.zone.currentText()
        if kind is ScheduleKind.INTERVAL:  # the zone only changes how its times are shown
            try:
                parse_tz(tz)
            except LabDeckError:
                tz = "UTC"
        parse_tz(tz)
        if kind is ScheduleKind.CRON:
            expr = " ".join(self.cron.text().split())
        elif kind is ScheduleKind.INTERVAL:
            expr = repr(parse_duration(self.interval.text()))
        else:
            expr = parse_at(self.at.dateTime().toString("yyyy-MM-dd HH:mm:ss"), tz).isoformat()
        s = Schedule(job, kind, expr, tz, enabled=self.enabled.isChecked(), catch_up=CatchUp(self.catch_up.currentData()))
        if self.original is not None:
            s.id, s.created_at = self.original.id, self.original.created_at
            s.after_job, s.after_ok = self.original.after_job, self.original.after_ok  # not edited here: kept
        validate(s)
        return s

    # ---- preview ------------------------------------------------------------------------------------

    def set_reference_time(self, when: datetime | None) -> None:
        """Preview fires after ``when`` (aware; naive means local time) instead of now."""
        self.reference = when
        if when is not None:
            ts = (when if when.tzinfo else when.astimezone()).timestamp()
            self.from_edit.blockSignals(True)
            self.from_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(ts)))
            self.from_edit.blockSignals(False)
        self.use_from.blockSignals(True)
        self.use_from.setChecked(when is not None)
        self.use_from.blockSignals(False)
        self.from_edit.setEnabled(when is not None)
        self.update_preview()

    def _from_toggled(self, on: bool) -> None:
        self.from_edit.setEnabled(on)
        self.reference = self._from_field() if on else None
        self.update_preview()

    def _from_field(self) -> datetime:
        return datetime.fromtimestamp(self.from_edit.dateTime().toSecsSinceEpoch(), UTC)

    def _from_changed(self, *_args) -> None:
        if self.use_from.isChecked():
            self.reference = self._from_field()
            self.update_preview()

    def reference_time(self) -> datetime:
        return (self.reference or datetime.now(UTC)).astimezone(UTC)

    def update_preview(self, *_args) -> None:
        kind = self.selected_kind()
        self.body.setCurrentIndex([k for k, _l in KIND_LABELS].index(kind))
        self.zone.setEnabled(kind is not ScheduleKind.INTERVAL)
        self.fires.clear()
        self.previews = []
        self.dst_warning.hide()
        try:
            s = self.schedule_from_fields()
            ref = self.reference_time()
            if s.kind is ScheduleKind.INTERVAL and s.created_at is None:
                s.created_at = ref.timestamp()   # a new interval counts from when it is saved
            self.previews = [p for p in preview(s, PREVIEW_COUNT, now=ref) if p.at > ref]  # a past one-off too
            if not self.previews:
                raise LabDeckError("this time has already passed: the schedule would never fire")
        except (LabDeckError, ValueError) as exc:
            self._set_error(str(exc))
            return
        self._set_error(None)
        zone = parse_tz(s.tz)
        self.fires.setHeaderLabels(["#", f"In {s.tz}", "Local time", "Daylight saving"])
        warn_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        flagged = 0
        for i, p in enumerate(self.previews, 1):
            at = p.at.astimezone(zone)
            local = p.at.astimezone()
            item = QTreeWidgetItem([str(i), f"{at:%a %Y-%m-%d %H:%M:%S %Z}", f"{local:%a %Y-%m-%d %H:%M:%S %Z}",
                                    ""])
            if p.flag:
                flagged += 1
                item.setText(3, f"⚠ {'gap' if p.flag == 'gap' else 'repeat'}: {p.note}")
                item.setIcon(0, warn_icon)
                for col in range(4):
                    item.setForeground(col, QBrush(QColor(WARN_COLOR)))
                    item.setBackground(col, QBrush(QColor(WARN_BG)))
                    item.setToolTip(col, p.note)
            item.setData(0, Qt.ItemDataRole.UserRole, p.flag)
            self.fires.addTopLevelItem(item)
        if flagged:
            notes = [p.note for p in self.previews if p.flag]
            self.dst_warning.setText(f"⚠ {flagged} of the next {len(self.previews)} fire time(s) fall on a "
                                     f"daylight-saving change in {s.tz}:\n" + "\n".join(notes[:3])
                                     + ("\n…" if len(notes) > 3 else ""))
            self.dst_warning.show()

    def flagged_rows(self) -> list[tuple[int, str, str]]:
        """(row, flag, note) of the preview rows with a DST warning."""
        return [(i, p.flag, p.note) for i, p in enumerate(self.previews) if p.flag]

    def _set_error(self, text: str | None) -> None:
        self.error = text
        self.save_button.setEnabled(text is None)
        if text:
            self.message.setText(text)
            self.message.show()
        else:
            self.message.hide()

    # ---- saving ---------------------------------------------------------------------------------------

    def save(self) -> None:
        try:
            s = self.schedule_from_fields()
            if self.original is None:
                s = self.store.add(s)
            else:
                self.store.update(s)
        except (LabDeckError, ValueError) as exc:
            self._set_error(str(exc))
            return
        self.saved.emit(s.id)
        self.accept()
