"""The WS-Man messages a running step or a file transfer sends again and again (Command,
Receive, Signal, Send), built and read without xmltodict.

pywinrm builds every envelope with ``xmltodict.unparse``, which costs about 0.8 ms of Python per
message, several times what the rest of a loopback round trip costs; with dozens of nodes
polling receives that CPU (and the GIL) adds up. These functions take the same header dict as
pywinrm (``Protocol.build_wsman_header``) and emit the same XML with a small direct writer;
the envelope is still sent by ``Protocol.send_message`` (transport, encryption, faults) and
replies are read as pywinrm reads them. tests/unit/test_winrm_soap.py checks that the XML is
the same as xmltodict's.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
SHELL_NS = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
SIGNAL_ACTION = f"{SHELL_NS}/Signal"
SIGNAL_TERMINATE = f"{SHELL_NS}/signal/terminate"


def to_xml(doc: dict) -> str:
    """xmltodict's dict convention (``@name`` attributes, ``#text``, lists repeat a tag) as XML."""
    out: list[str] = ['<?xml version="1.0" encoding="utf-8"?>\n']
    for tag, value in doc.items():
        _emit(tag, value, out)
    return "".join(out)


def _emit(tag: str, value, out: list[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _emit(tag, item, out)
        return
    if not isinstance(value, dict):
        out.append(f"<{tag}>{escape(_text(value))}</{tag}>" if value is not None else f"<{tag}></{tag}>")
        return
    attrs = "".join(f" {k[1:]}={quoteattr(_text(v))}" for k, v in value.items() if k.startswith("@"))
    out.append(f"<{tag}{attrs}>")
    if "#text" in value:
        out.append(escape(_text(value["#text"])))
    for key, child in value.items():
        if not key.startswith(("@", "#")):
            _emit(key, child, out)
    out.append(f"</{tag}>")


def _text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def command_request(header: dict, command: str, args: list[str]) -> dict:
    """The Command message pywinrm's ``run_command`` sends, with stdin as pipes and no cmd.exe."""
    header["env:Header"]["w:OptionSet"] = {"w:Option": [
        {"@Name": "WINRS_CONSOLEMODE_STDIN", "#text": "FALSE"},
        {"@Name": "WINRS_SKIP_CMD_SHELL", "#text": "TRUE"}]}
    line = header.setdefault("env:Body", {}).setdefault("rsp:CommandLine", {})
    line["rsp:Command"] = {"#text": command}
    if args:
        line["rsp:Arguments"] = " ".join(args)
    return {"env:Envelope": header}


def receive_request(header: dict, command_id: str) -> dict:
    stream = header.setdefault("env:Body", {}).setdefault("rsp:Receive", {}).setdefault("rsp:DesiredStream", {})
    stream["@CommandId"] = command_id
    stream["#text"] = "stdout stderr"
    return {"env:Envelope": header}


def signal_request(header: dict, command_id: str, code: str) -> dict:
    body = header.setdefault("env:Body", {}).setdefault("rsp:Signal", {})
    body["@CommandId"] = command_id
    body["rsp:Code"] = code
    return {"env:Envelope": header}


def send_request(header: dict, command_id: str, data: bytes, end: bool = False) -> dict:
    """Stdin for a command, as pywinrm's ``send_command_input`` sends it (file uploads send
    hundreds of KB per message: xmltodict's escaping of that text cost more than the copy)."""
    stream = header.setdefault("env:Body", {}).setdefault("rsp:Send", {}).setdefault("rsp:Stream", {})
    stream.update({"@CommandId": command_id, "@Name": "stdin", "@End": "true" if end else "false",
                   "@xmlns:rsp": SHELL_NS, "#text": base64.b64encode(data).decode("ascii")})
    return {"env:Envelope": header}


def read_command_id(reply: bytes) -> str:
    root = ET.fromstring(reply)
    return next(node.text or "" for node in root.iter() if node.tag.endswith("CommandId"))


def read_receive(reply: bytes) -> tuple[bytes, bytes, int, bool]:
    """(stdout, stderr, exit code or -1, done) from a ReceiveResponse, as pywinrm reads it."""
    root = ET.fromstring(reply)
    out, err = [], []
    done, code = False, -1
    for node in root.iter():
        if node.tag == f"{{{SHELL_NS}}}Stream" and node.text:
            if node.get("Name") == "stdout":
                out.append(base64.b64decode(node.text.encode("ascii")))
            elif node.get("Name") == "stderr":
                err.append(base64.b64decode(node.text.encode("ascii")))
        elif node.get("State", "").endswith("CommandState/Done"):
            done = True
        elif node.tag.endswith("ExitCode") and node.text:
            code = int(node.text)
    return b"".join(out), b"".join(err), code, done
