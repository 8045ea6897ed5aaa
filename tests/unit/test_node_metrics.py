"""The node metric history: every probe saved through Catalog.mark_node_seen leaves a compact
sample (percentages) that the dashboard reads back; a day is kept."""

from __future__ import annotations

import subprocess

from labdeck.core.metrics import sample_from_probe
from labdeck.executors.posix_shell import PROBE_SCRIPT, parse_probe
from labdeck.store.catalog import Catalog
from labdeck.store.metrics import MetricStore

PROBE = {"cpus": 8, "load": "2.0", "cpu_pct": 37, "memory_mb": 16000, "memory_free_mb": 4000,
         "disk_total_mb": 1000, "disk_free_mb": 250, "gpus": 2, "gpu_util": "91;12", "gpu_mem": "80;5"}


def test_a_probe_becomes_percentages():
    s = sample_from_probe(PROBE, 100.0)
    assert (s.cpu, s.memory, s.disk, s.gpus) == (37.0, 75.0, 75.0, (91.0, 12.0))
    no_sample = sample_from_probe({"cpus": 4, "load": "1.0"}, 1.0)   # older probes: load / cpus
    assert no_sample.cpu == 25.0 and no_sample.memory is None and no_sample.gpus == ()
    assert sample_from_probe({"gpu_util": 55}, 1.0).gpus == (55.0,)   # one GPU: parse_probe made it an int


def test_every_probe_saved_is_kept_for_a_day_and_read_back_per_node(tmp_path):
    from labdeck.core.models import Node, Transport
    cat = Catalog(tmp_path / "c.sqlite")
    cat.add_node(Node(name="gpu-01", transport=Transport.LOCAL))
    cat.add_node(Node(name="gpu-02", transport=Transport.LOCAL))
    now = 1_000_000.0
    cat.mark_node_seen("gpu-01", now - 90_000, probe=PROBE)          # older than a day
    for i in range(5):
        cat.mark_node_seen("gpu-01", now - 300 + i * 60, probe=dict(PROBE, cpu_pct=10 * i))
    cat.mark_node_seen("gpu-02", now, probe=dict(PROBE, gpu_util="3;4"))
    store = MetricStore(cat)
    day = store.history("gpu-01", now=now)
    assert [s.cpu for s in day] == [0.0, 10.0, 20.0, 30.0, 40.0]   # the old one was pruned
    assert store.histories(3600, now=now)["gpu-02"][0].gpus == (3.0, 4.0)
    kept = store.histories(10 * 86400, now=now)
    assert sum(len(v) for v in kept.values()) == 6                # pruned from the file, not only filtered
    cat.close()


def test_the_real_probe_script_measures_cpu_memory_and_disk_here():
    info = parse_probe(subprocess.run(["/bin/sh", "-c", PROBE_SCRIPT], capture_output=True, text=True,
                                      timeout=30).stdout)
    sample = sample_from_probe(info, 0.0)
    assert isinstance(info["cpu_pct"], int) and 0 <= sample.cpu <= 100
    assert 0 < sample.memory < 100 and 0 < sample.disk <= 100
    assert info["uptime_s"] > 0      # shown as "up 3 d 4 h" on the node's last-seen cell
