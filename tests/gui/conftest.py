"""GUI test fixtures: a real MainWindow over the real engine (no tray, confirmations recorded)."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def window(engine, qtbot):
    from labdeck.gui.main_window import MainWindow

    win = MainWindow(engine, use_tray=False)
    win.asked: list[str] = []

    def confirm(_parent, title, text, answer=True):
        win.asked.append(title)
        return win.confirm_answer

    win.confirm_answer = True
    win.confirm = confirm
    win.nodes_page.confirm = confirm
    win.jobs_page.confirm = confirm
    qtbot.addWidget(win)
    win.show()
    yield win
    win._quitting = True
    win.close()
    win.bridge.detach()
    # engine calls the test left in flight answer while the catalog is still open (their
    # callbacks refresh pages from it); a task still running after 5 s is left to its own end
    from labdeck.gui.workers import in_flight

    end = time.monotonic() + 5
    while in_flight() and time.monotonic() < end:
        qtbot.wait(20)


@pytest.fixture(scope="session")
def ssh_user():
    """(user, password) of a password-login user whose shell is /bin/sh. Root's ~/.bashrc on
    this machine runs ``pyenv init``, whose rehash lock can be left stale by killed sessions
    and then stalls every SSH command for 60 s; run tests log in as this user instead."""
    import os

    from tests.support.sshd import ensure_password_user

    if os.geteuid() != 0:
        return None
    return ensure_password_user()


@pytest.fixture
def add_node(engine, ssh_user):
    """add_sshd_node with the /bin/sh password user (its password goes to the keyring)."""
    from tests.conftest import add_sshd_node

    def add(sshd, name, tags=()):
        extra = {"username": ssh_user[0], "key_file": None, "secret": ssh_user[1]} if ssh_user else {}
        return add_sshd_node(engine, sshd, name=name, tags=list(tags), **extra)

    return add


def wait_run_final(qtbot, engine, run_id: int, timeout: int = 30_000) -> None:
    qtbot.waitUntil(lambda: engine.catalog.get_run(run_id).status.value != "running", timeout=timeout)


def launched(qtbot, view, previous: int | None = None, timeout: int = 10_000) -> int:
    """The run the window launched (engine calls from the GUI answer asynchronously)."""
    qtbot.waitUntil(lambda: view.run_id is not None and view.run_id != previous, timeout=timeout)
    return view.run_id
