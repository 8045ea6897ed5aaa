"""Where LabDeck's remote paths land on a Windows node's SMB share, and which SMB settings a
node can be saved with."""

from __future__ import annotations

import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.models import WinrmSettings
from labdeck.core.smb_paths import OutsideShare, SmbLayout

HOME = "C:\\Users\\alice"


@pytest.mark.parametrize("remote, unc", [
    ("inputs/a.bin", r"\\pc1\C$\Users\alice\inputs\a.bin"),
    ("~/inputs", r"\\pc1\C$\Users\alice\inputs"),
    ("~", r"\\pc1\C$\Users\alice"),
    ("", r"\\pc1\C$\Users\alice"),
    ("C:/data/x.txt", r"\\pc1\C$\data\x.txt"),
    ("c:\\data\\x.txt", r"\\pc1\C$\data\x.txt"),
    ("D:/scratch/run1", r"\\pc1\D$\scratch\run1"),
    ("/C:/data", r"\\pc1\C$\data"),
    ("/tmp/x", r"\\pc1\C$\tmp\x"),
    ("C:/", r"\\pc1\C$"),
    ("results/../inputs", r"\\pc1\C$\Users\alice\inputs"),
])
def test_admin_share_paths(remote, unc):
    assert SmbLayout("pc1", "C$", HOME).unc(remote) == unc


def test_another_share_maps_its_folder_and_refuses_the_rest():
    layout = SmbLayout("pc1", "Lab", "D:\\Lab\\alice", share_root="D:\\Lab")
    assert layout.unc("in/a.bin") == r"\\pc1\Lab\alice\in\a.bin"
    assert layout.unc("D:/lab/shared") == r"\\pc1\Lab\shared"
    assert layout.unc("D:/Lab") == r"\\pc1\Lab"
    with pytest.raises(OutsideShare, match=r"C:/Windows \(C:\\Windows\) is outside the SMB share Lab"):
        layout.unc("C:/Windows")
    with pytest.raises(OutsideShare):
        layout.unc("D:/Labs/other")  # a sibling whose name starts the same is not inside
    with pytest.raises(OutsideShare):
        layout.unc("../../../Windows")


def test_relative_paths_need_the_profile_folder():
    with pytest.raises(InvalidInput, match="profile folder is not known"):
        SmbLayout("pc1").unc("inputs")
    assert SmbLayout("pc1").unc("C:/data") == r"\\pc1\C$\data"


@pytest.mark.parametrize("settings, message", [
    ({"smb_share": "Lab"}, "give the Windows folder it exposes"),
    ({"smb_share": "C$", "smb_share_root": "C:\\"}, "admin share: it needs no share folder"),
    ({"smb_share": "a/b"}, "is not a share name"),
    ({"smb_port": 0}, "out of range"),
    ({"smb_home": "Users\\alice"}, "must be a full Windows path"),
])
def test_bad_smb_settings_are_refused(settings, message):
    with pytest.raises(InvalidInput, match=message):
        WinrmSettings(smb=True, **settings)
    WinrmSettings(smb=False, **settings)  # kept but unused while SMB is off


def test_old_nodes_without_smb_settings_load_with_smb_off():
    assert WinrmSettings(**{"auth": "ntlm", "https": False, "verify_cert": True, "shell": "cmd"}).smb is False
