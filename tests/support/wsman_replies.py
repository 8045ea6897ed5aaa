"""The replies of the WS-Management test server (tests/support/wsman_server.py) that Windows
words in a particular way: SOAP envelopes and faults.

A fault is ``s:Sender`` when the client is at fault (an unknown shell or command) and
``s:Receiver`` otherwise (w:TimedOut), carries a ``w:FaultDetail`` where Windows gives one, a
generic ``s:Reason``, and the useful sentence in ``s:Detail/f:WSManFault/f:Message`` with the
WSManFault ``Code`` (the texts below are Windows' own sentences, as its documentation and error
reports quote them).
"""

from __future__ import annotations

import uuid
from xml.sax.saxutils import escape

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
}
SHELL_NS = NS["rsp"]
TIMED_OUT_CODE = 2150858793
SHELL_NOT_FOUND_CODE = 2150858843  # also the code of an unknown CommandId, as on Windows
TIMED_OUT_TEXT = ("The WS-Management service cannot complete the operation within the time specified in "
                  "OperationTimeout.  ")
INVALID_SELECTORS_REASON = ("The WS-Management service cannot process the request because the request contained "
                            "invalid selectors for the resource. ")
INVALID_VALUE_DETAIL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidValue"
class Fault(Exception):
    """A WS-Management fault as Windows words it: a generic ``reason`` (``s:Reason``), the useful
    ``text`` in ``f:Message`` with the WSManFault ``code``; ``sender`` for the client's mistakes
    (``s:Sender``, an unknown shell or command), else ``s:Receiver``; ``detail`` a
    ``w:FaultDetail`` URI."""

    def __init__(self, subcode: str, code: int, text: str, reason: str | None = None, sender: bool = False,
                 detail: str | None = None):
        super().__init__(text)
        self.subcode, self.code, self.text = subcode, code, text
        self.reason, self.sender, self.detail = reason or text, sender, detail


def timed_out() -> Fault:
    return Fault("w:TimedOut", TIMED_OUT_CODE, TIMED_OUT_TEXT)


def envelope(action: str, relates_to: str, body: str) -> bytes:
    return (f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:w="{NS["w"]}" xmlns:rsp="{SHELL_NS}" '
            f'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer"><s:Header><a:Action>{action}</a:Action>'
            f'<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>'
            f'<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>'
            f'<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>').encode()


def fault_body(fault: Fault) -> str:
    detail = f"<w:FaultDetail>{fault.detail}</w:FaultDetail>" if fault.detail else ""
    return (f'<s:Fault><s:Code><s:Value>{"s:Sender" if fault.sender else "s:Receiver"}</s:Value><s:Subcode>'
            f'<s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">'
            f'{escape(fault.reason)}</s:Text></s:Reason><s:Detail>{detail}'
            f'<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
            f'Code="{fault.code}" Machine="127.0.0.1"><f:Message>{escape(fault.text)}</f:Message></f:WSManFault>'
            f'</s:Detail></s:Fault>')
