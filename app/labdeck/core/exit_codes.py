"""What a step's exit code means, in words a user can act on.

POSIX shells report a child killed by signal N as 128+N, and the SSH executor turns sshd's
``exit-signal`` (sent when the step's own shell was killed) into the same number, so both read
alike. Windows reports crashes as NTSTATUS values; the few that batch jobs hit are named.

Signal numbers come from a fixed table (Linux's numbering), never from the controller's own
``signal`` module: the exit code is the node's, and a controller on Windows has no SIGKILL or
SIGHUP to look up.
"""

from __future__ import annotations

# Linux's signal numbers (signal(7)), the ones a remote exit code of 128+N can carry.
POSIX_SIGNALS = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
    9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
    16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU",
    23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO",
    30: "SIGPWR", 31: "SIGSYS",
}
_SIGNAL_NUMBERS = {name: number for number, name in POSIX_SIGNALS.items()}

_SIGNAL_HINTS = {
    "SIGKILL": "often the out-of-memory killer, or someone ran kill -9",
    "SIGSEGV": "the program crashed on an invalid memory access",
    "SIGBUS": "the program crashed on a bus error; a file it had mapped may have shrunk",
    "SIGABRT": "the program aborted itself on a failed assertion or a fatal error",
    "SIGTERM": "something on the node asked it to stop",
    "SIGINT": "interrupted by Ctrl+C on the node",
    "SIGHUP": "its terminal or session went away",
    "SIGPIPE": "it wrote to a pipe nobody was reading",
    "SIGFPE": "the program crashed on an arithmetic error",
    "SIGILL": "the program crashed on an illegal instruction; was it built for another CPU?",
    "SIGXCPU": "it went over its CPU time limit, ulimit -t",
}

# NTSTATUS codes as the unsigned 32-bit exit codes Windows reports for a crashed process.
_WINDOWS_CRASHES = {
    0xC0000005: "access violation: the program crashed",
    0xC00000FD: "stack overflow: the program crashed",
    0xC0000409: "the program stopped itself on a fatal error, a failed stack buffer check",
    0xC0000017: "out of memory",
    0xC000013A: "interrupted by Ctrl+C, or its console closed",
    0xC0000135: "a DLL it needs was not found",
    0xC0000142: "it could not start: DLL initialization failed, often in a session without a desktop",
}


def signal_number(name: str) -> int | None:
    """The number of a signal named as SSH names them ("KILL") or with its prefix ("SIGKILL")."""
    name = name.upper()
    return _SIGNAL_NUMBERS.get(name if name.startswith("SIG") else "SIG" + name)


# cmd.exe's own codes: 9009 is "not recognized as an internal or external command", which is also
# what the Microsoft Store's python.exe placeholder returns on a PC without Python.
_CMD_CODES = {
    9009: ("the command was not found; for a .py step: Python is not installed on the node (or only the "
           "Microsoft Store's placeholder is): install it, or set the node's interpreter with "
           "labdeck node python NODE PATH"),
}


def describe_exit(code: int, os_family: str | None = None) -> str:
    """``exited with code N`` plus what N means when it is a signal death or a Windows crash."""
    text = f"exited with code {code}"
    if os_family == "windows" and code in _CMD_CODES:
        return f"{text} ({_CMD_CODES[code]})"
    if os_family == "windows" or code < 0 or code > 255:
        meaning = _WINDOWS_CRASHES.get(code & 0xFFFFFFFF)
        return f"{text} (0x{code & 0xFFFFFFFF:08X}: {meaning})" if meaning else text
    if 128 < code < 128 + 65:
        name = POSIX_SIGNALS.get(code - 128)
        if name is None:
            return text
        hint = _SIGNAL_HINTS.get(name)
        return f"{text} (killed by {name}" + (f": {hint})" if hint else ")")
    return text
