"""Nodes that share one home folder (NFS homes are common in labs; here: four real sshd nodes with
the same login on this machine): `put --targets all` into one relative folder succeeds on every
node, and the data travels once -- the other nodes see the first one's files and skip them."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

from labdeck.core.transfers import Direction, FileOutcome
from labdeck.engine.transfers import TransferRequest
from tests.conftest import add_sshd_node


def test_put_into_one_shared_folder_succeeds_on_all_and_the_data_travels_once(engine, sshd_nodes, tmp_path):
    nodes = sshd_nodes(4)
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["nfs"])
    source = tmp_path / "input.bin"
    source.write_bytes(os.urandom(20_000_000))
    folder = f"labdeck-shared-{uuid.uuid4().hex[:8]}"  # relative: in the login folder all four share
    try:
        transfer = engine.transfers.start(TransferRequest(Direction.PUT, [str(source)], f"{folder}/in", "tag:nfs"))
        assert engine.transfers.wait(transfer.id, 300)
        failed = {name: r.error for name, r in transfer.results.items() if not r.ok}
        assert failed == {}
        landed = Path.home() / folder / "in"
        landed_sum = hashlib.sha256((landed / "input.bin").read_bytes()).digest()
        assert landed_sum == hashlib.sha256(source.read_bytes()).digest()
        assert sorted(p.name for p in landed.iterdir()) == ["input.bin"]  # no part or marker file left behind
        outcomes = {name: (r.files[0].outcome, r.shared_with) for name, r in transfer.results.items()}
        copied = [name for name, (outcome, _) in outcomes.items() if outcome is FileOutcome.COPIED]
        assert len(copied) == 1, outcomes  # one node (the first of the targets) sends the data
        (leader,) = copied
        assert outcomes[leader] == (FileOutcome.COPIED, "")
        assert all(outcomes[n.name] == (FileOutcome.SKIPPED, leader) for n in nodes if n.name != leader), outcomes
    finally:
        shutil.rmtree(Path.home() / folder, ignore_errors=True)
