"""What a POSIX kill script reports still running becomes a short list for the node run's message."""

from labdeck.executors.posix_shell import parse_survivors


def test_survivors_are_named_once_each_and_a_long_list_is_cut_short():
    out = "LEFTOVERS 1\nALIVE\n" + "".join(f"SURVIVOR {pid} root sleep\n" for pid in range(100, 108))
    out += "SURVIVOR 100 root sleep\nSURVIVOR oops\n"
    assert parse_survivors(out) == [f"sleep (pid {pid}, user root)" for pid in range(100, 105)] + ["3 more"]
    assert parse_survivors("LEFTOVERS 0\nGONE\n") == []
