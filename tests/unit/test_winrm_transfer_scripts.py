"""The PowerShell transfer helpers of WinRM nodes, checked as strings (no Windows here): path
rules, parameters as exact PowerShell literals, what may reach stdout, the order of verify and
rename, and the size of one upload Send against WinRM's MaxEnvelopeSize."""

from __future__ import annotations

import base64
import os

import pytest
from winrm.protocol import Protocol

from labdeck.core.transfers import PART_SUFFIX
from labdeck.executors.winrm import soap
from labdeck.executors.winrm import transfer_scripts as scripts
from labdeck.executors.winrm.commands import powershell_command
from labdeck.executors.winrm.transfer import UPLOAD_CHUNK
from tests.unit.test_winrm_commands import HOSTILE, read_ps_single_quoted

MAX_ENVELOPE_DEFAULT = 500 * 1024  # MaxEnvelopeSizekb = 500 on a default Windows install
BUILDERS = {
    "xfer-stat": lambda p: scripts.stat_script(p),
    "xfer-list": lambda p: scripts.list_script(p),
    "xfer-mkdir": lambda p: scripts.mkdir_script(p),
    "xfer-remove": lambda p: scripts.remove_script(p),
    "xfer-hash": lambda p: scripts.hash_script(p, 4096),
    "xfer-touch": lambda p: scripts.touch_script(p, 1_700_000_000),
    "xfer-put": lambda p: scripts.put_script(p, 10, 1_700_000_000),
    "xfer-get": lambda p: scripts.get_script(p, 0, 1 << 18),
}


@pytest.mark.parametrize(("given", "expected"), [
    ("data/run 1/out.csv", "data\\run 1\\out.csv"),
    ("~/inbox/a.bin", "inbox\\a.bin"),
    ("~", ""), (".", ""), ("~/", ""),
    ("C:/lab/in", "C:\\lab\\in"),
    ("C:", "C:\\"),               # a bare drive means its root, not the drive's current folder
    ("D:\\x\\y", "D:\\x\\y"),
    ("\\\\server\\share\\f", "\\\\server\\share\\f"),
])
def test_windows_path_rules(given, expected):
    assert scripts.windows_path(given) == expected


def param(script: str, name: str) -> str:
    start = script.index(f"\n${name} = ") + len(f"\n${name} = ")
    value, end = read_ps_single_quoted(script, start)
    assert script[end] == "\n"  # nothing after the literal on its line
    return value


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("path", HOSTILE[:20])
def test_each_helper_names_itself_and_gets_the_path_as_one_exact_literal(name, path):
    script = BUILDERS[name](path)
    assert script.split("\n", 1)[0] == f"# labdeck-helper {name}"
    assert "$ErrorActionPreference = 'Stop'" in script
    assert param(script, "path") == scripts.windows_path(path)


def test_every_helper_resolves_relative_paths_under_the_profile_before_using_them():
    for build in BUILDERS.values():
        script = build("data/x")
        resolve = script.index("$target = [System.IO.Path]::GetFullPath([System.IO.Path]::Combine($env:USERPROFILE, "
                               "$path))")
        assert resolve < script.index("$target", resolve + 10)
        assert "Set-Location" not in script and "Resolve-Path" not in script


def test_helpers_fit_on_a_command_line_even_with_a_long_path():
    long_path = "C:/" + "/".join(["deeply nested folder"] * 40) + "/result.bin"
    for build in BUILDERS.values():
        powershell_command(build(long_path))  # raises past CreateProcess's limit


def test_numbers_reach_the_helpers_as_integers():
    assert param(scripts.hash_script("f", 4096), "length") == "4096"
    assert param(scripts.hash_script("f"), "length") == ""
    put = scripts.put_script("f", 123, 1_700_000_000)
    assert (param(put, "size"), param(put, "mtime")) == ("123", "1700000000")
    get = scripts.get_script("f", 99, 262144)
    assert (param(get, "offset"), param(get, "blockSize")) == ("99", "262144")


def test_put_writes_the_part_file_and_renames_only_after_the_hash_matches():
    body = scripts.PUT_BODY
    assert f"$part = $target + '{PART_SUFFIX}'" in body
    kept = body.index('if ($null -eq $expected) { "kept=$written"; exit 0 }')
    compare = body.index("if ($got -ne $expected) { [System.IO.File]::Delete($part); \"mismatch=$got\"; exit 0 }")
    renames = [body.index(s) for s in ("[System.IO.File]::Replace($part, $target", "[System.IO.File]::Move($part")]
    assert kept < compare < min(renames)
    assert body.index("SetLastWriteTimeUtc($part") < min(renames)
    # writing starts at the offset LabDeck answered, after truncating whatever followed it
    assert body.index("$stream.SetLength($offset)") < body.index("$stream.Write(")
    assert body.index("[Console]::Out.Flush()") < body.index("[Console]::In.ReadLine()")


def test_get_puts_nothing_but_the_files_bytes_on_stdout():
    body = scripts.GET_BODY
    statements = [line.strip() for line in body.splitlines() if line.strip()]
    assert not [s for s in statements if s.startswith(("'", '"', "Write-Output", "Write-Host", "echo"))]
    assert "[Console]::Out" not in body and "$out = [Console]::OpenStandardOutput()" in body
    assert "[Console]::Error.WriteLine('#missing'); exit 2" in body
    assert '[Console]::Error.WriteLine("#end $total "' in body


def test_remove_never_follows_links_and_refuses_the_profile_and_drive_roots():
    body = "\n".join(line for line in scripts.REMOVE_BODY.splitlines() if not line.startswith("#"))
    assert "Remove-Item" not in body and "[System.IO.Directory]::Delete($target, $true)" in body
    assert "$target.TrimEnd('\\') -eq $profileDir" in body
    assert "$target -eq [System.IO.Path]::GetPathRoot($target)" in body
    assert body.index("exit 3") < body.index("Delete($target")


def test_one_upload_send_stays_well_under_winrms_max_envelope_size():
    protocol = Protocol("http://node:5985/wsman", transport="basic", username="u", password="p")
    header = protocol.build_wsman_header(action=f"{soap.SHELL_NS}/Send", resource_uri=soap.SHELL_URI,
                                         shell_id="0" * 36)
    line = base64.b64encode(os.urandom(UPLOAD_CHUNK)) + b"\r\n"  # what upload_file sends per chunk
    envelope = soap.to_xml(soap.send_request(header, "0" * 36, line)).encode()
    assert len(envelope) <= 0.75 * MAX_ENVELOPE_DEFAULT
