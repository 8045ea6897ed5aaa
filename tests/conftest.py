# ---------------------------------------------------------------------------
# Shared pytest fixtures for LabDeck tests.
#
# Sections (add new fixtures under a clearly labelled section; keep helpers in
# tests/support/ rather than here):
#   * test environment  - keyring backend, XDG dirs, headless Qt (autouse)
#   * sshd              - real OpenSSH servers on loopback (tests/support/sshd.py)
#   * winrm             - the WS-Management test server (tests/support/wsman_server.py)
# ---------------------------------------------------------------------------
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from tests.support.sshd import SshdCluster, SshdNode, sshd_available

# Must be in place before any QApplication can be created (pytest-qt's qapp).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Each test folder is one marker (registered in pyproject.toml), so `-m unit` or `-m "not gui"`
# selects by kind without a decorator on every test.
_FOLDER_MARKERS = {"unit", "integration", "gui", "installer"}

# fixtures shared by test modules of several folders live in these support modules
pytest_plugins = ["tests.support.slurm", "tests.support.netns"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.parent.name
        if folder in _FOLDER_MARKERS:
            item.add_marker(folder)
    # Files with slow tests first, then the others by their number of tests (xdist's own guess):
    # the whole suite runs one file per worker, handed out in this order (tools/dev.py gives
    # --dist loadfile --no-loadscope-reorder), and a long file handed out last keeps every other
    # worker waiting for it. A stable sort: each file's tests stay together, in their order.
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    tests_in = Counter(item.path for item in items)
    items.sort(key=lambda item: (0, 0) if item.path in slow_files else (1, -tests_in[item.path]))


# --- test environment -------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _test_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Real (plaintext-file) keyring stored outside any LabDeck data dir; headless Qt.

    LabDeck refuses a keyring that stores secrets unencrypted; LABDECK_ALLOW_INSECURE_KEYRING=1
    is the tests' explicit opt-in to the plaintext one (only the test suite sets it; see README)."""
    xdg_data = tmp_path_factory.mktemp("xdg-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
        mp.setenv("LABDECK_ALLOW_INSECURE_KEYRING", "1")
        mp.setenv("XDG_DATA_HOME", str(xdg_data))
        mp.setenv("QT_QPA_PLATFORM", "offscreen")
        # engine services the tests start (labdeck run, EngineProcess) end 3 s after their last client and run
        mp.setenv("LABDECK_ENGINE_LINGER_S", "3")
        try:  # if keyring already picked a backend, switch it explicitly
            import keyring
            from keyrings.alt.file import PlaintextKeyring

            keyring.set_keyring(PlaintextKeyring())
        except ImportError:
            pass
        yield


# --- sshd ---------------------------------------------------------------------


def _require_sshd() -> None:
    if not sshd_available():
        pytest.fail(
            "OpenSSH server (/usr/sbin/sshd) and ssh-keygen are required for these tests; "
            "install them, e.g. `apt-get install openssh-server openssh-client`.",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def sshd_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdCluster]:
    _require_sshd()
    cluster = SshdCluster(tmp_path_factory.mktemp("sshd"))
    yield cluster
    cluster.stop_all()


@pytest.fixture
def sshd_node(sshd_cluster: SshdCluster) -> Iterator[SshdNode]:
    (node,) = sshd_cluster.start_nodes(1)
    yield node
    node.stop()


@pytest.fixture
def sshd_nodes(sshd_cluster: SshdCluster) -> Iterator[Callable[[int], list[SshdNode]]]:
    started: list[SshdNode] = []

    def factory(n: int) -> list[SshdNode]:
        nodes = sshd_cluster.start_nodes(n)
        started.extend(nodes)
        return nodes

    yield factory
    for node in started:
        node.stop()


# --- engine ---------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "labdeck-data"
    path.mkdir()
    return path


@pytest.fixture
def engine(data_dir):
    from labdeck.engine.engine import Engine

    eng = Engine(data_dir)
    yield eng
    eng.close()


def add_sshd_node(engine, sshd, name: str | None = None, tags: list[str] | None = None, **overrides):
    """Register a real sshd node in the engine the way a user would: accept its host key."""
    from labdeck.core.models import Node, Transport

    node = Node(name=name or sshd.name, transport=Transport.SSH, host=sshd.host, port=sshd.port,
                username=overrides.pop("username", sshd.user), key_file=overrides.pop("key_file", str(sshd.key_file)),
                tags=tags or [])
    engine.add_node(node, accept_host_key=True, **overrides)
    return node


# --- winrm ----------------------------------------------------------------------


@pytest.fixture
def wsman_server(tmp_path) -> Iterator:
    from tests.support.wsman_server import WsmanServer

    server = WsmanServer(tmp_path / "winrm-node").start()
    yield server
    server.stop()


@pytest.fixture(params=__import__("tests.support.winrm_node", fromlist=["logins"]).logins())
def windows_node(request, tmp_path) -> Iterator:
    """A Windows node for tests that must also hold on real Windows: the WS-Management test
    server, or the PC named by LABDECK_TEST_WINRM_HOST (tests/support/winrm_node.py); once per
    login (basic, ntlm)."""
    from tests.support import winrm_node

    if winrm_node.real_node_configured():
        yield winrm_node.real_node(request.param)
        return
    node, server = winrm_node.test_server_node(tmp_path / "winrm-node", request.param)
    yield node
    server.stop()


def add_winrm_node(engine, server, name: str = "win1", tags: list[str] | None = None, password: str | None = None,
                   check: bool = True, **winrm):
    """Register the WS-Management test server as a Windows node the way a user would."""
    from labdeck.core.models import Node, Transport, WinrmSettings

    node = Node(name=name, transport=Transport.WINRM, host=server.host, port=server.port, username=server.username,
                tags=tags or [], winrm=WinrmSettings(**({"auth": "basic"} | winrm)))
    engine.add_node(node, secret=server.password if password is None else password, check=check)
    return node
