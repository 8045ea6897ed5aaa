"""LabDeck's writer for the Command, Receive and Signal envelopes emits the same XML as
pywinrm's xmltodict, and reads replies as pywinrm does."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import xmltodict
from winrm.protocol import Protocol

from labdeck.executors.winrm import soap


def header(action: str) -> dict:
    protocol = Protocol("http://node:5985/wsman", transport="basic", username="u", password="p")
    return protocol.build_wsman_header(action=action, resource_uri=soap.SHELL_URI, shell_id="SHELL-1",
                                       message_id="11111111-2222-3333-4444-555555555555")


def canonical(xml: str) -> str:
    return ET.canonicalize(xml, strip_text=True)


def test_envelopes_match_xmltodict():
    cases = [
        soap.command_request(header(f"{soap.SHELL_NS}/Command"), "powershell.exe",
                             ["-NoProfile", "-EncodedCommand", "QQA=", "a&b<c>'\""]),
        soap.receive_request(header(f"{soap.SHELL_NS}/Receive"), "CMD-1"),
        soap.signal_request(header(f"{soap.SHELL_NS}/Signal"), "CMD-1", f"{soap.SHELL_NS}/signal/terminate"),
    ]
    for doc in cases:
        assert canonical(soap.to_xml(doc)) == canonical(xmltodict.unparse(doc))


def test_send_matches_pywinrms_own_send_command_input():
    protocol = Protocol("http://node:5985/wsman", transport="basic", username="u", password="p")
    sent: list[str] = []
    protocol.send_message = sent.append
    for end in (False, True):
        data = b"line one\r\n<&>" + bytes(range(256))
        protocol.send_command_input("SHELL-1", "CMD-1", data, end)
        theirs = ET.fromstring(sent[-1])
        ours = ET.fromstring(soap.to_xml(soap.send_request(header(f"{soap.SHELL_NS}/Send"), "CMD-1", data, end)))
        for tree in (theirs, ours):  # each message has its own id
            tree.find(".//{http://schemas.xmlsoap.org/ws/2004/08/addressing}MessageID").text = "M"
        assert canonical(ET.tostring(ours, encoding="unicode")) == canonical(ET.tostring(theirs, encoding="unicode"))


def test_receive_reply_is_read_like_pywinrm():
    out, err = base64.b64encode(b"out \xff").decode(), base64.b64encode(b"err").decode()
    reply = (f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:rsp="{soap.SHELL_NS}"><s:Body>'
             f'<rsp:ReceiveResponse><rsp:Stream Name="stdout" CommandId="C">{out}</rsp:Stream>'
             f'<rsp:Stream Name="stderr" CommandId="C">{err}</rsp:Stream>'
             f'<rsp:Stream Name="stdout" CommandId="C" End="true"></rsp:Stream>'
             f'<rsp:CommandState CommandId="C" State="{soap.SHELL_NS}/CommandState/Done">'
             f'<rsp:ExitCode>7</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse></s:Body></s:Envelope>')
    assert soap.read_receive(reply.encode()) == (b"out \xff", b"err", 7, True)
    running = reply.replace("CommandState/Done", "CommandState/Running").replace("<rsp:ExitCode>7</rsp:ExitCode>", "")
    assert soap.read_receive(running.encode()) == (b"out \xff", b"err", -1, False)
