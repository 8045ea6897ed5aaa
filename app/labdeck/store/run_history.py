"""The run history's queries: one page of runs matching a filter, how many match, and the job names
seen. The History page's model reads through these; filtering, searching and sorting happen in SQL,
so a page costs the same with 100 runs or 100,000."""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import Catalog

# ORDER BY per sort key; every order ends on the id so pages never overlap or skip rows.
ORDER_BY = {
    "id": "r.id",
    "job": "r.job_name",
    "status": "r.status",
    "ok": "ok",
    "trigger": "r.trigger",
    "started": "r.started_at",
    "duration": "COALESCE(r.finished_at, r.started_at) - r.started_at",
    "targets": "r.targets",
}
_NEEDS_AGGREGATE = {"ok"}   # orders that need the node-run counts of every run
_COLUMNS = "r.id, r.job_name, r.trigger, r.status, r.targets, r.note, r.started_at, r.finished_at"
_AGGREGATE = "GROUP_CONCAT(nr.node_name, ',') AS nodes, COUNT(nr.id) AS total, SUM(nr.status = 'succeeded') AS ok"


@dataclass
class RunFilters:
    """What the history shows. Add a field and a clause in ``where`` for a new filter."""
    job: str | None = None
    node: str | None = None
    status: str | None = None
    since: float | None = None   # started at or after (epoch seconds)
    text: str = ""               # case-insensitive, in id, job, status, trigger, targets, note, node names
    project: str | None = None   # runs of this project's jobs

    def where(self) -> tuple[str, list]:
        clauses = ["r.workflow_run_id IS NULL"]  # task runs show under their workflow or array
        params: list[str | float] = []
        if self.project:
            clauses.append("r.job_id IN (SELECT id FROM jobs WHERE project = ?)")
            params.append(self.project)
        if self.job:
            clauses.append("r.job_name = ?")
            params.append(self.job)
        if self.status:
            clauses.append("r.status = ?")
            params.append(self.status)
        if self.since:
            clauses.append("r.started_at >= ?")
            params.append(self.since)
        if self.node:
            clauses.append("EXISTS (SELECT 1 FROM node_runs n WHERE n.run_id = r.id AND n.node_name = ?)")
            params.append(self.node)
        text = self.text.lower().strip()
        if text:
            clauses.append(
                "(instr('#' || r.id, ?) OR instr(lower(r.job_name), ?) OR instr(replace(r.status, '_', ' '), ?)"
                " OR instr(r.status, ?) OR instr(lower(r.trigger), ?) OR instr(lower(r.targets), ?)"
                " OR instr(lower(COALESCE(r.note, '')), ?)"
                " OR EXISTS (SELECT 1 FROM node_runs n WHERE n.run_id = r.id AND instr(lower(n.node_name), ?)))")
            params += [text] * 8
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def history_page(catalog: Catalog, filters: RunFilters, order_by: str, descending: bool, offset: int,
                 limit: int) -> list[dict]:
    """One page of runs with their node names and node-run counts, sorted by ``order_by`` (a key of
    ``ORDER_BY``)."""
    where, params = filters.where()
    direction = "DESC" if descending else "ASC"
    order = f"{ORDER_BY[order_by]} {direction}, r.id {direction}"
    if order_by in _NEEDS_AGGREGATE:
        sql = (f"SELECT {_COLUMNS}, {_AGGREGATE} FROM runs r LEFT JOIN node_runs nr ON nr.run_id = r.id{where}"
               f" GROUP BY r.id ORDER BY {order} LIMIT ? OFFSET ?")
    else:  # pick the page first (indexes, no join), then count node runs for those rows only
        sql = (f"SELECT {_COLUMNS}, {_AGGREGATE}"
               f" FROM (SELECT r.* FROM runs r{where} ORDER BY {order} LIMIT ? OFFSET ?) r"
               f" LEFT JOIN node_runs nr ON nr.run_id = r.id GROUP BY r.id ORDER BY {order}")
    return catalog._rows(sql, (*params, limit, offset))


def history_count(catalog: Catalog, filters: RunFilters) -> int:
    where, params = filters.where()
    return catalog._rows(f"SELECT COUNT(*) AS n FROM runs r{where}", tuple(params))[0]["n"]


def history_job_names(catalog: Catalog) -> list[str]:
    return [r["job_name"] for r in catalog._rows("SELECT DISTINCT job_name FROM runs")]
