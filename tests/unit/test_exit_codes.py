"""Exit codes told in words: signal deaths on POSIX nodes, crash codes on Windows nodes."""

from labdeck.core.exit_codes import describe_exit, signal_number


def test_a_signal_death_names_the_signal_and_the_likely_cause():
    assert describe_exit(137) == ("exited with code 137 (killed by SIGKILL: often the out-of-memory killer, "
                                  "or someone ran kill -9)")
    assert "SIGSEGV" in describe_exit(139, "linux") and "crashed" in describe_exit(139, "linux")


def test_ordinary_codes_are_left_alone():
    assert describe_exit(1) == "exited with code 1"
    assert describe_exit(2, "windows") == "exited with code 2"
    assert describe_exit(137, "windows") == "exited with code 137"  # no signals there


def test_windows_crash_codes_are_named_signed_or_unsigned():
    for code in (-1073741819, 0xC0000005):
        assert describe_exit(code, "windows").endswith("(0xC0000005: access violation: the program crashed)")


def test_ssh_signal_names_map_to_numbers():
    assert signal_number("KILL") == 9 and signal_number("SIGSEGV") == 11
    assert signal_number("NOT-A-SIGNAL") is None and signal_number("") is None
