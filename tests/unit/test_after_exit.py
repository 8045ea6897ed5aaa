"""A step whose shell exited but whose output is still open: output still arriving (the end of a
large output in flight) keeps the step going; only a quiet grace, or the cap, ends it."""

from __future__ import annotations

import time

from labdeck.executors import base
from labdeck.executors.base import AfterExit


def test_output_still_arriving_after_the_exit_keeps_the_step_going(monkeypatch):
    monkeypatch.setattr(base, "BACKGROUND_GRACE_S", 0.3)
    after = AfterExit()
    assert not after.over()  # the exit is noted
    end = time.monotonic() + 0.8
    while time.monotonic() < end:  # longer than the grace, but never quiet for it
        after.output()
        assert not after.over()
        time.sleep(0.05)
    time.sleep(0.35)
    assert after.over()


def test_a_child_printing_without_end_is_cut_off_at_the_cap(monkeypatch):
    monkeypatch.setattr(base, "BACKGROUND_GRACE_S", 0.3)
    monkeypatch.setattr(base, "BACKGROUND_MAX_S", 0.5)
    after = AfterExit()
    after.over()
    end = time.monotonic() + 1.0
    ended = False
    while time.monotonic() < end and not ended:
        after.output()
        ended = after.over()
        time.sleep(0.05)
    assert ended
