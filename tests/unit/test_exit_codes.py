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


class _WindowsSignalModule:
    """Python's ``signal`` module as it is on Windows: only these six signals exist there
    (a stand-in, since this test runs on Linux; the Windows CI job runs the test for real)."""
    import enum
    Signals = enum.IntEnum("Signals", {"SIGINT": 2, "SIGILL": 4, "SIGFPE": 8, "SIGSEGV": 11, "SIGTERM": 15,
                                       "SIGBREAK": 21, "SIGABRT": 22})


def test_remote_signal_deaths_read_the_same_on_a_windows_controller(monkeypatch):
    from labdeck.core import exit_codes
    monkeypatch.setattr(exit_codes, "signal", _WindowsSignalModule, raising=False)
    assert describe_exit(137, "linux") == ("exited with code 137 (killed by SIGKILL: often the out-of-memory "
                                           "killer, or someone ran kill -9)")
    assert describe_exit(129, "linux").startswith("exited with code 129 (killed by SIGHUP: its terminal")
    assert describe_exit(135, "linux").startswith("exited with code 135 (killed by SIGBUS")  # Linux's 7, not 10
    assert signal_number("KILL") == 9 and signal_number("HUP") == 1 and signal_number("PIPE") == 13


def test_a_windows_command_not_found_says_how_to_give_a_py_step_its_python():
    assert describe_exit(9009, "windows") == (
        "exited with code 9009 (the command was not found; for a .py step: Python is not installed on the node "
        "(or only the Microsoft Store's placeholder is): install it, or set the node's interpreter with "
        "labdeck node python NODE PATH)")
