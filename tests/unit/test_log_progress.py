"""The progress convention (``::progress N`` / ``LABDECK_PROGRESS=N`` lines) and the
incremental reader the run view uses to follow a growing log."""

from __future__ import annotations

from labdeck.core.progress import last_progress
from labdeck.store.log_progress import LogProgress


def test_the_last_progress_line_counts_in_either_spelling():
    assert last_progress(b"a\n::progress 12\nb\nLABDECK_PROGRESS=42\nc\n") == 42.0
    assert last_progress(b"::progress 99.5%\n") == 99.5
    assert last_progress(b"::progress 250\n") == 100.0               # clamped
    assert last_progress(b"echo ::progress 42\nprogress 42\n") is None  # only whole lines count
    assert last_progress(b"nothing here\n") is None


def test_a_growing_log_is_read_only_where_it_grew(tmp_path):
    log = tmp_path / "node.log"
    log.write_bytes(b"start\n::progress 10\nhalf a li")
    tracker = LogProgress()
    first = tracker.read(str(log))
    assert (first.lines, first.last_line, first.percent) == (2, "start", 10.0)   # progress lines are not news
    with open(log, "ab") as f:
        f.write(b"ne\nLABDECK_PROGRESS=55\nworking on shard 7\n")
    second = tracker.read(str(log))
    assert (second.lines, second.last_line, second.percent) == (5, "working on shard 7", 55.0)
    assert second.offset == log.stat().st_size
    assert tracker.read(str(log)).lines == 5    # nothing new: nothing counted twice


def test_streamed_text_gives_what_the_log_file_gives(tmp_path):
    from labdeck.core.progress import TextProgress
    chunks = ["start\n::prog", "ress 10\nhalf a li", "ne\nLABDECK_PROGRESS=55\nworking on shard 7\n", "tail without end"]
    live = TextProgress()
    for chunk in chunks:
        live.feed(chunk)
    log = tmp_path / "node.log"
    log.write_text("".join(chunks))
    from_file = LogProgress().read(str(log))
    assert live.snapshot() == (from_file.lines, from_file.last_line, from_file.percent) == (5, "working on shard 7", 55.0)
