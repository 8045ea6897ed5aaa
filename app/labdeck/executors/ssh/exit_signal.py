"""sshd's ``exit-signal`` for a command killed by a signal, which paramiko drops.

RFC 4254 6.10: when the remote command dies of a signal, sshd sends ``exit-signal`` (the
signal's name) instead of ``exit-status``; paramiko answers it as an unknown request and
``recv_exit_status()`` returns -1, which would read as "exited with code -1". ``install`` gives
one transport a channel-request handler that notes the signal's name on the channel first, so
the executor can report 128+N, as a shell does for a killed child.
"""

from __future__ import annotations

import paramiko
from paramiko.common import MSG_CHANNEL_REQUEST


def _note_exit_signal(chan: paramiko.Channel, message: paramiko.Message) -> None:
    start = message.packet.tell()
    try:
        if message.get_text() == "exit-signal":
            message.get_boolean()  # want-reply
            chan.labdeck_exit_signal = message.get_text()
    except Exception:  # noqa: BLE001 - a malformed request is paramiko's to refuse
        pass
    message.packet.seek(start)
    paramiko.Channel._handle_request(chan, message)


def install(transport: paramiko.Transport) -> None:
    """This transport's channels note ``exit-signal`` (paramiko dispatches requests through a
    class-level table; this transport gets its own copy with one entry replaced)."""
    table = dict(type(transport)._channel_handler_table)
    table[MSG_CHANNEL_REQUEST] = _note_exit_signal
    transport._channel_handler_table = table


def exit_signal(chan: paramiko.Channel) -> str | None:
    """The signal that killed the channel's command (``"KILL"``), if sshd said so."""
    return getattr(chan, "labdeck_exit_signal", None)
