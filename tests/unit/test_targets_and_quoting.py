"""Target specs and option quoting: pure functions, checked against real shells where one runs here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labdeck.core.errors import InvalidInput, NotFound
from labdeck.core.models import Node
from labdeck.core.quoting import Shell, env_name, quote, shell_for_script, substitute
from labdeck.core.targets import resolve_targets

NODES = [Node(name="gpu1", tags=["gpu", "linux"]), Node(name="gpu2", tags=["gpu", "windows"]),
         Node(name="cpu1", tags=["linux"]), Node(name="cpu2", tags=[])]


def names(spec: str) -> list[str]:
    return [n.name for n in resolve_targets(spec, NODES)]


def test_target_specs_union_intersection_and_exclusion():
    assert names("all") == ["gpu1", "gpu2", "cpu1", "cpu2"]
    assert names("cpu2, gpu1") == ["gpu1", "cpu2"]
    assert names("tag:gpu") == ["gpu1", "gpu2"]
    assert names("tag:gpu&tag:linux") == ["gpu1"]
    assert names("all,!tag:gpu") == ["cpu1", "cpu2"]
    assert names("tag:linux,!gpu1") == ["cpu1"]


def test_target_spec_errors_name_the_problem():
    with pytest.raises(NotFound, match="unknown node 'gpu3'.*known nodes: cpu1, cpu2, gpu1, gpu2"):
        names("gpu3")
    with pytest.raises(InvalidInput, match="matches no node"):
        names("tag:nothing")
    with pytest.raises(InvalidInput, match="empty target spec"):
        names("  ")
    with pytest.raises(InvalidInput, match="empty tag"):
        names("tag:")
    for spec in ("gpu1,", "gpu1,,gpu2", ",gpu1"):  # a name was probably meant there
        with pytest.raises(InvalidInput, match="empty term in targets .*remove the extra comma"):
            names(spec)
    assert resolve_targets("tag:nothing", NODES, allow_empty=True) == []


HOSTILE = ["x; touch /tmp/pwned", "$(id)", "`id`", "it's", 'say "hi"', "a\nb", "\\", "", "*", "%PATH%", "-n", "!x!"]


@pytest.mark.skipif(sys.platform == "win32", reason="needs /bin/sh (the cmd.exe twin is in test_windows_local.py)")
@pytest.mark.parametrize("value", HOSTILE)
def test_sh_substitution_is_one_literal_word(value):
    command = substitute("printf '[%s]' ${option.v}", {"v": value}, Shell.SH)
    out = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True).stdout
    assert out == f"[{value}]"


@pytest.mark.parametrize("value", HOSTILE)
def test_powershell_quoting_is_a_single_quoted_literal(value):
    quoted = quote(value, Shell.POWERSHELL)
    assert quoted.startswith("'") and quoted.endswith("'")
    inner = quoted[1:-1]
    assert inner.replace("''", "") .count("'") == 0  # every quote is doubled, so the string never ends early
    assert inner.replace("''", "'") == value


def test_cmd_substitution_is_a_delayed_expansion_reference_never_the_value():
    command = substitute("echo ${option.v} & echo ${option.batch-size}", {"v": "a & del *", "batch-size": "3"},
                         Shell.CMD)
    assert command == "echo !LABDECK_OPTION_V! & echo !LABDECK_OPTION_BATCH_SIZE!"


def test_unknown_option_reference_is_an_error_naming_it():
    with pytest.raises(InvalidInput, match=r"\$\{option.colour\}.*options: size"):
        substitute("echo ${option.colour}", {"size": "1"}, Shell.SH)


def test_env_names_and_script_shells():
    assert env_name("batch-size") == "LABDECK_OPTION_BATCH_SIZE"
    assert shell_for_script("run.PS1", Shell.SH) is Shell.POWERSHELL
    assert shell_for_script("run.bat", Shell.SH) is Shell.CMD
    assert shell_for_script("run.py", Shell.CMD) is Shell.CMD
