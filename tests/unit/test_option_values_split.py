"""Which option values travel in the environment and which as files (core.option_values), and
how a value in a file is substituted for each shell."""

import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.option_values import split_values
from labdeck.core.quoting import Shell, substitute


def test_values_up_to_4_kib_stay_in_the_environment_and_larger_ones_go_to_files():
    env, files = split_values({"small": "a" * 4096, "big": "b" * 4097})
    assert env == {"LABDECK_OPTION_SMALL": "a" * 4096}
    assert [(f.option, f.variable, f.filename, len(f.body)) for f in files] == [
        ("big", "LABDECK_OPTION_BIG_FILE", "option-big.txt", 4097)]


def test_past_16_kib_together_the_largest_values_go_to_files_first():
    values = {f"v{i}": "x" * (4000 - i) for i in range(5)}  # 19,990 bytes together
    env, files = split_values(values)
    assert [f.option for f in files] == ["v0"]  # the largest; the other four fit in 16 KiB
    assert sorted(env) == [f"LABDECK_OPTION_V{i}" for i in range(1, 5)]


def test_a_value_in_a_file_is_read_by_powershell_quoted_for_sh_and_refused_for_cmd():
    options = {"v": "it's big"}
    assert substitute("echo ${option.v}", options, Shell.POWERSHELL, frozenset({"v"})) == (
        "echo ([System.IO.File]::ReadAllText($env:LABDECK_OPTION_V_FILE))")
    assert substitute("echo ${option.v}", options, Shell.SH, frozenset({"v"})) == "echo 'it'\"'\"'s big'"
    with pytest.raises(InvalidInput, match=r"a cmd step cannot use \$\{option.v\}: read the file "
                                           r"%LABDECK_OPTION_V_FILE% names"):
        substitute("echo ${option.v}", options, Shell.CMD, frozenset({"v"}))
