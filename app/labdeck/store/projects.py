"""Projects: every job belongs to one (Rundeck's top level: projects -> jobs -> steps ->
nodes); nodes are shared by all. A project exists while it has jobs; ``default`` always."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.models import DEFAULT_PROJECT
from .catalog import Catalog


@dataclass
class ProjectSummary:
    name: str
    jobs: int
    runs: int
    last_run_at: float | None


def project_summaries(catalog: Catalog) -> list[ProjectSummary]:
    rows = catalog._rows(
        "SELECT j.project AS name, COUNT(DISTINCT j.id) AS jobs, COUNT(r.id) AS runs, MAX(r.started_at) AS last "
        "FROM jobs j LEFT JOIN runs r ON r.job_id = j.id AND r.workflow_run_id IS NULL "
        "GROUP BY j.project ORDER BY j.project")
    found = [ProjectSummary(r["name"], r["jobs"], r["runs"], r["last"]) for r in rows]
    if DEFAULT_PROJECT not in {p.name for p in found}:
        found.insert(0, ProjectSummary(DEFAULT_PROJECT, 0, 0, None))
    return sorted(found, key=lambda p: (p.name != DEFAULT_PROJECT, p.name.lower()))


def project_names(catalog: Catalog) -> list[str]:
    return [p.name for p in project_summaries(catalog)]


def job_names_in(catalog: Catalog, project: str) -> set[str]:
    return {r["name"] for r in catalog._rows("SELECT name FROM jobs WHERE project = ?", (project,))}
