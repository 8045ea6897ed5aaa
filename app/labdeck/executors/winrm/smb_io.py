"""Pipelined reads and writes on one open SMB file (smbprotocol's ``Open``): several
multi-credit requests in flight, answered in order, each answer awaited for a bounded time.

Eight 2 MiB requests in flight measured about twice as fast on loopback against Samba as one
8 MiB request at a time — the largest size Samba and Windows negotiate (bench/bench_smb.py and
bench/RESULTS.md): the next block is read, hashed, packed and signed while the node handles
the previous ones, and smbprotocol's receiver asks the socket for the whole remaining message
on every read (a fresh buffer that large each time), which 8 MiB messages pay for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from smbprotocol.exceptions import SMBException

READ_BLOCK = 2 << 20        # a read, with READ_DEPTH of them in flight
READ_DEPTH = 8
WRITE_BLOCK = 2 << 20       # a write, with WRITE_DEPTH of them in flight
WRITE_DEPTH = 8
IN_FLIGHT = WRITE_DEPTH * WRITE_BLOCK  # the most an upload can have unacknowledged
CREDIT_BYTES = 65536        # one SMB credit pays for this much of a read or write
ANSWER_TIMEOUT_S = 120.0    # a slow disk on a busy PC can take long; a silent network longer


class ShortTransfer(Exception):
    """The node read or wrote fewer bytes than asked (a file got shorter, a disk filled up)."""


def read_pipelined(fd, offset: int, end: int, sink: Callable[[bytes], None], check: Callable[[], None]) -> int:
    """Bytes ``offset``..``end`` of the file into ``sink``, in order; ``check()`` runs between
    blocks (it raises to stop). Returns how many bytes were read."""
    conn = fd.connection
    sid, tid = fd.tree_connect.session.session_id, fd.tree_connect.tree_connect_id
    largest = min(READ_BLOCK, conn.max_read_size)
    pending: deque = deque()
    asked = done = 0
    while offset + asked < end or pending:
        check()
        while offset + asked < end and len(pending) < READ_DEPTH:
            size = min(largest, end - offset - asked)
            room = _credits(conn) * CREDIT_BYTES
            if room < size and pending:
                break  # the oldest answer brings the credits
            size = min(size, max(room, CREDIT_BYTES))
            message, receive = fd.read(offset + asked, size, send=False)
            request = conn.send(message, sid=sid, tid=tid, credit_request=_charge(size) * READ_DEPTH)
            pending.append((request, receive, size))
            asked += size
        request, receive, size = pending.popleft()
        data = receive(_answered(request))
        if len(data) != size:
            raise ShortTransfer(f"{len(data)} of {size} bytes at offset {offset + done}")
        sink(data)
        done += size
    return done


def write_pipelined(fd, src, offset: int, on_sent: Callable[[bytes], None], on_written: Callable[[int], None],
                    check: Callable[[], None]) -> None:
    """The rest of the local file ``src`` into the SMB file from ``offset``: ``on_sent`` sees
    each block as it goes out, ``on_written`` each count the node confirmed."""
    conn = fd.connection
    sid, tid = fd.tree_connect.session.session_id, fd.tree_connect.tree_connect_id
    largest = min(WRITE_BLOCK, conn.max_write_size)
    pending: deque = deque()

    def finish_oldest() -> None:
        request, receive, size = pending.popleft()
        written = receive(_answered(request))
        if written != size:
            raise ShortTransfer(f"{written} of {size} bytes written")
        on_written(size)

    while True:
        check()
        while pending and _credits(conn) * CREDIT_BYTES < largest:
            finish_oldest()  # its answer brings the credits the next block needs
        block = src.read(min(largest, max(_credits(conn), 1) * CREDIT_BYTES))
        if not block:
            break
        message, receive = fd.write(block, offset=offset, send=False)
        request = conn.send(message, sid=sid, tid=tid, credit_request=_charge(len(block)) * WRITE_DEPTH)
        pending.append((request, receive, len(block)))
        offset += len(block)
        on_sent(block)
        if len(pending) >= WRITE_DEPTH:
            finish_oldest()
    while pending:
        finish_oldest()


def _charge(size: int) -> int:
    return -(-size // CREDIT_BYTES)


def _answered(request):
    """The request once its answer is in: smbprotocol itself would wait forever for a node whose
    network went silent (no reset), so a longer wait counts as a lost connection."""
    if not request.response_event.wait(ANSWER_TIMEOUT_S):
        raise SMBException(f"no answer from the node for {ANSWER_TIMEOUT_S:.0f} s")
    return request


def _credits(conn) -> int:
    window = conn.sequence_window
    return window["high"] - window["low"]
