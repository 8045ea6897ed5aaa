"""The run view of a job on a REAL single-host Slurm cluster (tests/support/slurm.py): a job
Slurm keeps pending shows as ``queued`` in the node-run grid, in the queued colour, with
Slurm's reason, and turns ``running`` when Slurm starts it."""

from __future__ import annotations

from labdeck.core.job_plan import Plan, Resources
from labdeck.core.models import Job, Step
from labdeck.gui.status_style import status_color
from tests.support.slurm import add_cluster


def test_a_pending_slurm_job_shows_queued_with_its_reason_then_running(qtbot, window, engine, slurm, login):
    add_cluster(engine, login)
    engine.catalog.add_job(Job(name="hog", targets="hpc", steps=[Step(command="sleep 60")],
                               plan=Plan(resources=Resources(cpus=slurm.cpus))))
    engine.catalog.add_job(Job(name="next", targets="hpc", steps=[Step(command="echo started; sleep 60")]))
    hog = engine.start_job("hog")
    qtbot.waitUntil(lambda: "RUNNING" in slurm.squeue().values(), timeout=30_000)
    run = engine.start_job("next")
    view = window.run_view
    window.open_run(run.id)
    qtbot.waitUntil(lambda: view.status_of("hpc") == "queued" and view.matrix.item(0, 5).text()
                    == "queued on hpc (Slurm: PENDING, Resources)", timeout=30_000)
    assert view.matrix.item(0, 1).text() == "queued"
    assert view.matrix.item(0, 1).background().color().rgb() == status_color("queued").rgb()
    assert "1 queued" in view.summary.text()
    assert view.cancel_node_button.isEnabled() or view.cancel_run_button.isEnabled()
    engine.cancel(hog.id)  # room on the node: Slurm starts the queued job
    qtbot.waitUntil(lambda: view.status_of("hpc") == "running", timeout=60_000)
    assert view.matrix.item(0, 5).text() == ""
    engine.cancel(run.id)
    assert engine.wait(run.id, 30) and engine.wait(hog.id, 30)


def test_every_run_and_node_run_status_has_its_own_colour():
    """A status without a colour would show as the grey of "pending" in the grids and history."""
    from labdeck.core.status import NodeRunStatus, RunStatus
    from labdeck.gui.status_style import STATUS_COLORS
    assert {s.value for s in NodeRunStatus} | {s.value for s in RunStatus} <= set(STATUS_COLORS)
