"""Schedules in the catalog, and the "pause all scheduling" setting. The catalog is the only
source of truth: the engine's scheduler rebuilds itself from here at every start and follows
changes made by another process (the CLI beside a running daemon) through ``signature``."""

from __future__ import annotations

import builtins  # ScheduleStore.list shadows list in the class body

from ..core.clock import SYSTEM_CLOCK, Clock
from ..core.errors import InvalidInput, NotFound
from ..core.schedules import CatchUp, Schedule, ScheduleKind, validate
from .catalog import Catalog

PAUSED_SETTING = "scheduling_paused"


def _from_row(row: dict) -> Schedule:
    return Schedule(id=row["id"], job_name=row["job_name"], kind=ScheduleKind(row["kind"]), expr=row["expr"],
                    tz=row["tz"], enabled=bool(row["enabled"]), catch_up=CatchUp(row["catch_up"]),
                    last_checked=row["last_checked"], created_at=row["created_at"],
                    after_job=row.get("after_job") or "", after_ok=bool(row.get("after_ok")))


class ScheduleStore:
    def __init__(self, catalog: Catalog, clock: Clock = SYSTEM_CLOCK):
        self.catalog = catalog
        self.clock = clock  # "now", from which fires count: the scheduler's clock

    def add(self, schedule: Schedule) -> Schedule:
        """Validate and store; the schedule counts fires from now on (none before it existed)."""
        now = self.clock.time()
        schedule.created_at = schedule.created_at or now
        schedule.last_checked = schedule.last_checked or now
        validate(schedule)
        job = self.catalog.get_job(schedule.job_name)
        self._check_after(schedule)
        with self.catalog._tx() as db:
            schedule.id = db.table("schedules").insert({
                "job_id": job.id, "kind": str(schedule.kind), "expr": schedule.expr, "tz": schedule.tz,
                "enabled": int(schedule.enabled), "catch_up": str(schedule.catch_up),
                "after_job": schedule.after_job, "after_ok": int(schedule.after_ok),
                "last_checked": schedule.last_checked, "created_at": schedule.created_at, "updated_at": now,
            }).last_pk
        return schedule

    def update(self, schedule: Schedule) -> None:
        """Change a stored schedule in place (same id, so its history stays linked). Fires count
        from now on under the new rule; a running scheduler follows through ``signature``."""
        validate(schedule)
        job = self.catalog.get_job(schedule.job_name)
        if schedule.id is None:
            raise NotFound(f"schedule of job '{schedule.job_name}' was never stored (add it first)")
        self.get(schedule.id)  # NotFound if it was removed meanwhile
        self._check_after(schedule)
        now = self.clock.time()
        with self.catalog._tx() as db:
            db.table("schedules").update(schedule.id, {
                "job_id": job.id, "kind": str(schedule.kind), "expr": schedule.expr, "tz": schedule.tz,
                "enabled": int(schedule.enabled), "catch_up": str(schedule.catch_up),
                "after_job": schedule.after_job, "after_ok": int(schedule.after_ok),
                "last_checked": now, "updated_at": now})

    def _check_after(self, schedule: Schedule) -> None:
        if schedule.after_ok and not schedule.after_job:
            raise InvalidInput("after_ok needs after: the job whose run a fire waits for")
        if schedule.after_job:
            self.catalog.get_job(schedule.after_job)  # NotFound names the known jobs
            if schedule.after_job == schedule.job_name:
                raise InvalidInput(f"a schedule of job '{schedule.job_name}' cannot wait for the job itself "
                                   "(its overlap rule decides what a fire does while it runs)")

    def get(self, schedule_id: int) -> Schedule:
        rows = self._select("WHERE s.id = ?", (schedule_id,))
        if not rows:
            raise NotFound(f"no schedule with id {schedule_id} (see: labdeck schedule list)")
        return rows[0]

    def list(self, job_name: str | None = None) -> list[Schedule]:
        if job_name:
            return self._select("WHERE j.name = ? ORDER BY s.id", (job_name,))
        return self._select("ORDER BY s.id")

    def remove(self, schedule_id: int) -> None:
        self.get(schedule_id)
        with self.catalog._tx() as db:
            db.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))

    def set_enabled(self, schedule_id: int, enabled: bool) -> None:
        """Enabling again starts counting fires from now: the paused time is not "missed"."""
        schedule = self.get(schedule_id)
        now = self.clock.time()
        changes = {"enabled": int(enabled), "updated_at": now}
        if enabled and not schedule.enabled:
            changes["last_checked"] = now
        with self.catalog._tx() as db:
            db.table("schedules").update(schedule_id, changes)

    def set_last_checked(self, schedule_id: int, when: float) -> None:
        with self.catalog._tx() as db:
            db.execute("UPDATE schedules SET last_checked = ? WHERE id = ?", (when, schedule_id))

    # ---- pause all ---------------------------------------------------------------------

    def paused(self) -> bool:
        return self.catalog.get_setting(PAUSED_SETTING) == "1"

    def set_paused(self, paused: bool) -> None:
        """Resuming starts counting fires from now for every schedule."""
        if not paused and self.paused():
            now = self.clock.time()
            with self.catalog._tx() as db:
                db.execute("UPDATE schedules SET last_checked = ?, updated_at = ?", (now, now))
        self.catalog.set_setting(PAUSED_SETTING, "1" if paused else "0")

    def signature(self) -> tuple:
        """Changes when a schedule is added, removed, enabled or disabled, or scheduling paused."""
        with self.catalog._lock:
            row = self.catalog._conn.execute(
                "SELECT COUNT(*), COALESCE(MAX(updated_at), 0), COALESCE(SUM(id), 0) FROM schedules").fetchone()
        return tuple(row) + (self.paused(),)

    def _select(self, where: str, params: tuple = ()) -> builtins.list[Schedule]:
        return [_from_row(r) for r in self.catalog._rows(
            f"SELECT s.*, j.name AS job_name FROM schedules s JOIN jobs j ON j.id = s.job_id {where}", params)]
