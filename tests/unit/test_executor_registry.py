"""The executor registry: one factory per transport, imported on first use, so the CLI starts
without paramiko or pywinrm; every executor implements the whole Executor protocol (optional
capabilities are declared there, not found with hasattr)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.models import Node, Transport
from labdeck.executors.base import Executor
from labdeck.executors.registry import FACTORY_MODULES, factory_for


def test_every_transport_has_a_factory_that_serves_it():
    assert set(FACTORY_MODULES) == set(Transport)
    for transport in Transport:
        assert factory_for(transport).transport is transport
        assert factory_for(transport.value) is factory_for(transport)


def test_an_unknown_transport_is_refused_in_one_line_naming_the_known_ones():
    with pytest.raises(InvalidInput, match=r"transport 'telnet' is not supported: use one of local, ssh, winrm, slurm"):
        factory_for("telnet")


def test_cli_start_up_and_the_factories_leave_paramiko_and_pywinrm_unimported():
    code = ("import sys, labdeck.cli, labdeck.engine.engine\n"
            "from labdeck.executors.registry import factory_for\n"
            "for t in ('local', 'ssh', 'winrm', 'slurm'): factory_for(t)\n"
            "print(sorted(m for m in ('paramiko', 'winrm', 'smbprotocol') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_transport_settings_are_validated_by_the_transports_factory():
    with pytest.raises(InvalidInput, match="needs --user for SSH"):
        factory_for("ssh").validate(Node("n1", Transport.SSH, host="h"))
    with pytest.raises(InvalidInput, match="needs --user for WinRM"):
        factory_for("winrm").validate(Node("w1", Transport.WINRM, host="h"))
    factory_for("local").validate(Node("here", Transport.LOCAL))


def _protocol_members(protocol) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")} | set(protocol.__annotations__)


def test_every_executor_implements_the_whole_protocol_including_optional_capabilities():
    from labdeck.executors.local.executor import LocalExecutor
    from labdeck.executors.ssh.executor import SshExecutor
    from labdeck.executors.winrm.executor import WinrmExecutor
    members = _protocol_members(Executor)
    assert {"run", "probe", "detached_ops", "close"} <= members
    for cls in (LocalExecutor, SshExecutor, WinrmExecutor):
        missing = {m for m in members if not hasattr(cls, m) and m not in getattr(cls, "__annotations__", {})
                   and m != "shell"}
        assert not missing, f"{cls.__name__} lacks {missing}"
