"""What a WS-Management fault from Windows says, for a person.

Windows puts a generic sentence in ``s:Reason`` ("...the request contained invalid selectors for
the resource.") and the useful one in ``s:Detail/f:WSManFault/f:Message`` ("The request for the
Windows Remote Shell with ShellId ... failed because the shell was not found on the server...")
with the WSManFault ``Code``. pywinrm keeps only the reason and the code, plus the raw reply,
from which ``fault_text`` reads the message.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

TIMED_OUT = 2150858793        # w:TimedOut: not done within the request's OperationTimeout
SHELL_NOT_FOUND = 2150858843  # the shell, or a command in it, does not exist (any more)
_WSMAN_FAULT = "{http://schemas.microsoft.com/wbem/wsman/1/wsmanfault}"


def fault_message(response: str | bytes | None) -> str:
    """The ``f:Message`` text of a fault reply ("" if there is none or the reply is not XML)."""
    if not response:
        return ""
    raw = response.encode("utf-8") if isinstance(response, str) else response
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:  # never expand what a node declares
        return ""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        return ""
    for element in root.iter(f"{_WSMAN_FAULT}Message"):
        text = "".join(element.itertext()).strip()
        if text:
            return " ".join(text.split())
    return ""


def fault_text(exc) -> str:
    """A pywinrm ``WSManFaultError`` as one line: the node's message and the WS-Man code."""
    message = fault_message(getattr(exc, "response", None)) or " ".join(str(exc.reason or "").split())
    code = getattr(exc, "wsman_fault_code", None)
    return f"{message} (WS-Management error {code})" if code else message
