"""The text LabDeck shows for a WS-Management fault: Windows' f:Message and the WSManFault
code, not the generic s:Reason; nothing a node declares in a DOCTYPE is expanded."""

from __future__ import annotations

from winrm.exceptions import WSManFaultError

from labdeck.executors.winrm.faults import fault_message, fault_text
from tests.support.wsman_replies import INVALID_SELECTORS_REASON, INVALID_VALUE_DETAIL, Fault, envelope, fault_body


def windows_fault(text: str) -> bytes:
    fault = Fault("w:InvalidSelectors", 2150858843, text, INVALID_SELECTORS_REASON, sender=True,
                  detail=INVALID_VALUE_DETAIL)
    return envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", "uuid:1", fault_body(fault))


def test_the_message_and_the_code_not_the_generic_reason():
    reply = windows_fault("The request for the Windows Remote Shell with ShellId X failed because the shell was "
                          "not found on the server.  ")
    exc = WSManFaultError(500, "Bad HTTP response", reply.decode(), INVALID_SELECTORS_REASON, "s:Sender",
                          "w:InvalidSelectors", 2150858843)
    text = fault_text(exc)
    assert text == ("The request for the Windows Remote Shell with ShellId X failed because the shell was not found "
                    "on the server. (WS-Management error 2150858843)")
    assert "invalid selectors" not in text


def test_without_a_message_the_reason_is_shown():
    exc = WSManFaultError(500, "m", "not xml", "Access is denied.", wsman_fault_code=5)
    assert fault_text(exc) == "Access is denied. (WS-Management error 5)"


def test_a_doctype_in_a_reply_is_never_expanded():
    hostile = (b'<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><s><f:Message '
               b'xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault">&x;</f:Message></s>')
    assert fault_message(hostile) == ""
