"""NodeManager against real sshd servers: update is all or nothing, try_login saves nothing, and
add with an expected fingerprint refuses a different key before saving anything."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from labdeck.core.errors import AuthenticationFailed, HostKeyChanged
from labdeck.core.models import Node, Transport
from labdeck.store import secrets
from labdeck.store.identity import catalog_token


@pytest.fixture(scope="module")
def password_user():
    """(user, password) of a password-login user (created once; needs root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a password user")
    from tests.support.sshd import ensure_password_user

    return ensure_password_user()


def _ssh_node(sshd, name: str, **fields) -> Node:
    values = {"username": sshd.user, "key_file": str(sshd.key_file)} | fields
    return Node(name=name, transport=Transport.SSH, host=sshd.host, port=sshd.port, **values)


def _snapshot(engine, name: str):
    """A node's settings, host keys and secret; its probe figures are left out, since the engine's
    periodic probe may refresh them at any moment."""
    node = engine.catalog.get_node(name)
    settings = replace(node, probe={}, last_seen=None)
    return settings, engine.catalog.host_keys(name), secrets.get_secret(node.credential_ref)


def test_update_saves_settings_and_keeps_identity(engine, sshd_node):
    engine.nodes.add(_ssh_node(sshd_node, "u1", tags=["a"]), accept_host_key=True)
    before = engine.catalog.get_node("u1")
    check = engine.nodes.update(_ssh_node(sshd_node, "u1", tags=["a", "b"]), None, sshd_node.host_key_fingerprint)
    assert check.reachable
    after = engine.catalog.get_node("u1")
    assert after.tags == ["a", "b"]
    assert after.id == before.id and after.probe.get("cpus") and after.last_seen >= before.last_seen
    assert [fp for _b64, fp in engine.catalog.host_keys("u1").values()] == [sshd_node.host_key_fingerprint]


def test_update_rolls_back_on_a_wrong_password(engine, sshd_node, password_user):
    user, password = password_user
    engine.nodes.add(_ssh_node(sshd_node, "pw", username=user, key_file=None, tags=["old"]), password,
                     accept_host_key=True)
    node0, keys0, secret0 = _snapshot(engine, "pw")
    assert secret0 == password and node0.credential_ref

    changed = _ssh_node(sshd_node, "pw", username=user, key_file=None, tags=["new"])
    with pytest.raises(AuthenticationFailed):
        engine.nodes.update(changed, "not-the-password", sshd_node.host_key_fingerprint)

    node1, keys1, secret1 = _snapshot(engine, "pw")
    assert node1 == node0                      # the whole row, tags included
    assert keys1 == keys0
    assert secret1 == password                 # the old secret is back in the keyring
    assert engine.test_node("pw").reachable    # and it still works


def test_update_with_a_changed_host_key_needs_that_exact_fingerprint(engine, sshd_node):
    engine.nodes.add(_ssh_node(sshd_node, "rekeyed"), accept_host_key=True)
    node0, keys0, _ = _snapshot(engine, "rekeyed")
    old_fp = sshd_node.host_key_fingerprint
    sshd_node.stop()
    sshd_node.regenerate_host_key()
    sshd_node.start()
    new_fp = sshd_node.host_key_fingerprint
    assert new_fp != old_fp

    with pytest.raises(HostKeyChanged):        # a fingerprint the node does not present
        engine.nodes.update(_ssh_node(sshd_node, "rekeyed", tags=["x"]), None, "SHA256:not-this-one")
    assert _snapshot(engine, "rekeyed")[:2] == (node0, keys0)

    engine.nodes.update(_ssh_node(sshd_node, "rekeyed", tags=["x"]), None, new_fp)
    assert [fp for _b64, fp in engine.catalog.host_keys("rekeyed").values()] == [new_fp]
    assert engine.catalog.get_node("rekeyed").tags == ["x"]


def test_try_login_saves_nothing(engine, sshd_node, password_user):
    user, password = password_user
    fp = sshd_node.host_key_fingerprint
    check = engine.nodes.try_login(_ssh_node(sshd_node, "probe-only"), None, fp)
    assert check.reachable and check.host_key == fp
    check = engine.nodes.try_login(_ssh_node(sshd_node, "probe-pw", username=user, key_file=None), password, fp)
    assert check.reachable
    with pytest.raises(AuthenticationFailed):
        engine.nodes.try_login(_ssh_node(sshd_node, "probe-pw", username=user, key_file=None), "wrong", fp)
    with pytest.raises(HostKeyChanged):
        engine.nodes.try_login(_ssh_node(sshd_node, "probe-only"), None, "SHA256:not-this-one")
    names = [n.name for n in engine.catalog.list_nodes()]
    assert "probe-only" not in names and "probe-pw" not in names
    assert engine.catalog.host_keys("probe-only") == {} and engine.catalog.host_keys("probe-pw") == {}
    assert secrets.get_secret(secrets.credential_ref_for("probe-pw", catalog_token(engine.catalog))) is None


def test_add_with_a_different_expected_fingerprint_saves_nothing(engine, sshd_node, password_user):
    user, password = password_user
    node = _ssh_node(sshd_node, "mismatch", username=user, key_file=None)
    with pytest.raises(HostKeyChanged):
        engine.nodes.add(node, password, accept_host_key=True, expected_fingerprint="SHA256:not-this-one")
    assert "mismatch" not in [n.name for n in engine.catalog.list_nodes()]
    assert engine.catalog.host_keys("mismatch") == {}
    assert secrets.get_secret(secrets.credential_ref_for("mismatch", catalog_token(engine.catalog))) is None

    engine.nodes.add(_ssh_node(sshd_node, "mismatch", username=user, key_file=None), password,
                     accept_host_key=True, expected_fingerprint=sshd_node.host_key_fingerprint)
    assert [fp for _b64, fp in engine.catalog.host_keys("mismatch").values()] == [sshd_node.host_key_fingerprint]
