"""Adding a Slurm cluster through the node dialog (a REAL single-host cluster behind a test
sshd, tests/support/slurm.py): its host key is shown and trusted like an SSH node's, partition,
account and sbatch options are saved, and the nodes grid shows the partitions' load."""

from __future__ import annotations

from PySide6.QtCore import Qt

from labdeck.core.models import Transport
from tests.integration.test_slurm_runs import login, slurm  # noqa: F401 - the cluster fixtures
from tests.support.slurm import GPUS, PARTITION


def test_add_a_slurm_cluster_with_partition_and_sbatch_options(qtbot, window, engine, slurm, login):  # noqa: F811
    page = window.nodes_page
    dialog = page.add_node()
    dialog.name.setText("hpc")
    dialog.transport.setCurrentText("slurm")
    assert dialog.slurm.isVisible() and not dialog.winrm.isVisible() and dialog.key_file.isEnabled()
    dialog.host.setText(login.host)
    dialog.port.setValue(login.port)
    dialog.user.setText(login.user)
    dialog.key_file.setText(str(login.key_file))
    dialog.slurm.partition.setText(PARTITION)
    dialog.slurm.sbatch_args.setText("--nice=10 '--comment=from the lab'")
    with qtbot.waitSignal(dialog.checkFinished, timeout=20_000):
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert login.host_key_fingerprint in dialog.key_label.text()
    dialog.accept_key.setChecked(True)
    with qtbot.waitSignal(dialog.saved, timeout=30_000):
        qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Save), Qt.MouseButton.LeftButton)
    node = engine.catalog.get_node("hpc")
    assert node.transport is Transport.SLURM
    assert (node.slurm.partition, node.slurm.sbatch_args) == (PARTITION, ["--nice=10", "--comment=from the lab"])
    names = [page.model.node_at(r).name for r in range(page.model.rowCount())]
    row = names.index("hpc")
    load = f"{PARTITION}: 1 node, {slurm.cpus}/{slurm.cpus} CPUs free, {GPUS}/{GPUS} GPUs free"
    assert page.model.index(row, 6).data() == load
    assert page.model.index(row, 1).data().startswith("Slurm ")


def test_sbatch_options_the_cluster_node_may_not_set_are_refused_in_the_dialog(qtbot, window):
    dialog = window.nodes_page.add_node()
    dialog.name.setText("hpc")
    dialog.transport.setCurrentText("slurm")
    dialog.host.setText("login.example")
    dialog.user.setText("me")
    dialog.slurm.sbatch_args.setText("--output=/tmp/x")
    with qtbot.waitSignal(dialog.checkFinished, timeout=5_000) as blocker:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] is False and "LabDeck sets --output itself" in blocker.args[1]
