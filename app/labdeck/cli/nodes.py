"""``labdeck node add|list|test|capacity|smb|prepare-windows|remove``."""

from __future__ import annotations

import re
from dataclasses import asdict, replace

from ..core.errors import InvalidInput
from ..core.interpreters import check_interpreter
from ..core.models import WINRM_AUTHS, Node, SlurmSettings, Transport, WinrmSettings
from ..store import node_down
from . import node_import
from .argtypes import PORT, whole_number
from .common import open_catalog, open_engine, print_json, print_table, read_secret_from_stdin


def register(sub) -> None:
    node = sub.add_parser("node", help="manage the machines of the lab").add_subparsers(dest="node_command",
                                                                                        metavar="ACTION")
    node.required = True

    add = node.add_parser("add", help="add a node (checks it can be reached unless --no-check)")
    add.add_argument("name")
    add.add_argument("--host", default="")
    add.add_argument("--port", type=PORT)
    add.add_argument("--user", default="")
    add.add_argument("--key-file", help="private key file (its passphrase, if any, via --password-stdin)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password (or the key's passphrase) from standard input; kept in the OS keyring")
    add.add_argument("--transport", choices=[t.value for t in Transport], default="ssh")
    add.add_argument("--auth", choices=WINRM_AUTHS, default="ntlm", help="WinRM authentication (default ntlm)")
    add.add_argument("--https", action="store_true", help="WinRM over HTTPS (port 5986 unless --port)")
    add.add_argument("--no-verify-cert", action="store_true",
                     help="WinRM over HTTPS: do not check the node's certificate "
                          "(only for a self-signed one you trust)")
    add.add_argument("--shell", choices=["cmd", "powershell"], default="cmd",
                     help="WinRM: the shell command steps are written for (default cmd)")
    _smb_arguments(add)
    add.add_argument("--partition", default="", help="Slurm: the partition batch jobs go to (default: the cluster's)")
    add.add_argument("--account", default="", help="Slurm: the account batch jobs are charged to")
    add.add_argument("--sbatch-arg", action="append", default=[], metavar="ARG",
                     help="Slurm: one more sbatch option for every batch job, e.g. --sbatch-arg=--qos=short "
                          "(repeatable)")
    add.add_argument("--encoding", default="utf-8",
                     help="how the node's output is decoded (default utf-8; e.g. cp850 for an OEM code page)")
    add.add_argument("--python", default="", metavar="INTERPRETER",
                     help="what runs .py script steps (a path, or e.g. python3, py -3; default: found on the node)")
    add.add_argument("--tag", action="append", default=[], help="a tag for target specs (repeatable)")
    add.add_argument("--via", metavar="GATEWAY[,GATEWAY2]", default="",
                     help="SSH: reach the node through these jump hosts (nodes already added), first hop first, "
                          "like ssh -J")
    add.add_argument("--accept-host-key", action="store_true", help="trust the host key the node presents now")
    add.add_argument("--no-check", action="store_true",
                     help="add without connecting (accept the host key later with node test)")
    add.set_defaults(handler=cmd_add)

    lst = node.add_parser("list", help="list nodes")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_list)

    test = node.add_parser("test", help="connect, check the host key and probe the node")
    test.add_argument("name")
    test.add_argument("--accept-host-key", action="store_true", help="trust the host key the node presents now")
    test.add_argument("--replace-host-key", action="store_true", help="with --accept-host-key: replace a changed key")
    test.set_defaults(handler=cmd_test)

    cap = node.add_parser("capacity", help="set what a node offers to jobs that request resources "
                                           "(unset values come from the last probe)")
    cap.add_argument("name")
    cap.add_argument("--cpus", type=whole_number(0, 100_000))
    cap.add_argument("--memory-mb", type=whole_number(0, 1 << 40))
    cap.add_argument("--gpus", type=whole_number(0, 10_000))
    cap.add_argument("--clear", action="store_true", help="forget the values set by hand")
    cap.set_defaults(handler=cmd_capacity)

    smb = node.add_parser("smb", help="WinRM node: move its files over SMB when its share answers "
                                      "(else through PowerShell)")
    smb.add_argument("name")
    _smb_arguments(smb)
    smb.add_argument("--off", action="store_true", help="no SMB: files go through PowerShell")
    smb.set_defaults(handler=cmd_smb)

    prep = node.add_parser("prepare-windows",
                           help="print the PowerShell that prepares a Windows PC for LabDeck (WinRM over HTTPS)")
    prep.add_argument("--allow", default="LocalSubnet",
                      help="who may connect through the firewall: LocalSubnet (default), an address or a range")
    prep.set_defaults(handler=cmd_prepare_windows)

    node_import.register(node)

    py = node.add_parser("python", help="set the Python interpreter that runs a node's .py script steps")
    py.add_argument("name")
    py.add_argument("interpreter", nargs="?", default=None,
                    help="a path (C:\\Python312\\python.exe, /opt/conda/bin/python) or a command (python3, py -3)")
    py.add_argument("--clear", action="store_true",
                    help="find one on the node again (python3; on Windows py or python)")
    py.set_defaults(handler=cmd_python)

    rm = node.add_parser("remove", help="remove a node and its saved credential")
    rm.add_argument("name")
    rm.set_defaults(handler=cmd_remove)


def _smb_arguments(parser) -> None:
    parser.add_argument("--smb", action="store_true",
                        help="WinRM: move files over SMB (the admin share C$ unless --smb-share) when the share "
                             "answers, with the same login")
    parser.add_argument("--smb-share", help="the share (implies --smb; default C$, which reaches every drive's X$)")
    parser.add_argument("--smb-port", type=PORT, help="the SMB port (implies --smb; default 445)")
    parser.add_argument("--smb-root", help="the Windows folder a share other than X$ exposes, e.g. D:\\Lab")
    parser.add_argument("--smb-home", help="where relative paths start, e.g. C:\\Users\\alice "
                                           "(default: the profile folder the node reports)")


def _smb_settings(args, settings: WinrmSettings) -> WinrmSettings:
    given = {"smb_share": args.smb_share, "smb_port": args.smb_port, "smb_share_root": args.smb_root,
             "smb_home": args.smb_home}
    given = {k: v for k, v in given.items() if v is not None}
    if not (args.smb or given or getattr(args, "off", False)):
        return settings
    return replace(settings, smb=not getattr(args, "off", False), **given)


def cmd_add(args) -> int:
    secret = read_secret_from_stdin() if args.password_stdin else None
    smb_given = args.smb or any(v is not None for v in (args.smb_share, args.smb_port, args.smb_root, args.smb_home))
    if args.transport != "winrm" and (args.https or args.no_verify_cert or args.auth != "ntlm" or args.shell != "cmd"
                                      or smb_given):
        raise InvalidInput("--auth, --https, --no-verify-cert, --shell and --smb... are for --transport winrm")
    if args.transport != "slurm" and (args.partition or args.account or args.sbatch_arg):
        raise InvalidInput("--partition, --account and --sbatch-arg are for --transport slurm")
    if args.no_verify_cert and not args.https:
        raise InvalidInput("--no-verify-cert only applies with --https")
    node = Node(name=args.name, transport=Transport(args.transport), host=args.host, port=args.port,
                username=args.user, key_file=_absolute(args.key_file), tags=args.tag, encoding=args.encoding,
                via=[hop.strip() for hop in args.via.split(",") if hop.strip()],
                python=check_interpreter(args.python),
                winrm=_smb_settings(args, WinrmSettings(auth=args.auth, https=args.https,
                                                        verify_cert=not args.no_verify_cert, shell=args.shell)),
                slurm=SlurmSettings(partition=args.partition, account=args.account, sbatch_args=args.sbatch_arg))
    with open_engine(args) as engine:
        result = engine.add_node(node, secret=secret, accept_host_key=args.accept_host_key, check=not args.no_check)
    print(f"added node '{node.name}'" + (f" ({result.probe.get('os', '?')}, {result.probe.get('cpus', '?')} CPUs)"
                                         if result.reachable else " (not checked)"))
    return 0


def cmd_list(args) -> int:
    with open_catalog(args) as catalog:
        nodes = catalog.list_nodes()
        down = node_down.down_nodes(catalog)
    if args.json:
        print_json([{**{k: v for k, v in asdict(n).items() if k not in ("id",)},
                     "down": {"since": down[n.name].since, "reason": down[n.name].reason} if n.name in down else None}
                    for n in nodes])
        return 0
    print_table(["NAME", "TRANSPORT", "HOST", "USER", "TAGS", "OS", "CPUS", "LAST SEEN", "STATE"],
                [[n.name, n.transport, f"{n.host}:{n.effective_port}" if n.host else "-", n.username or "-",
                  ",".join(n.tags) or "-", n.os_family, n.probe.get("cpus"), _ago(n.last_seen),
                  down[n.name].text() if n.name in down else ("up" if n.last_seen else "-")] for n in nodes])
    return 0


def cmd_test(args) -> int:
    with open_engine(args) as engine:
        result = engine.test_node(args.name, accept_host_key=args.accept_host_key,
                                  replace_host_key=args.replace_host_key)
    if result.host_key:
        print(f"host key: {result.host_key}")
    p = result.probe
    if p.get("slurm_version"):
        print(f"node '{args.name}' is a Slurm {p['slurm_version']} cluster (login node {p.get('os', '?')}); "
              f"{p.get('cpus', '?')} CPUs, {p.get('gpus', 0)} GPUs in all")
        for check in result.checks:
            print(f"  {'ok  ' if check.ok else 'FIX '} {check.name}: {check.value}"
                  + (f" - {check.advice}" if check.advice else ""))
        return 0
    print(f"node '{args.name}' is reachable: {p.get('os', '?')} {p.get('os_release', '')}, {p.get('cpus', '?')} CPUs, "
          f"{p.get('memory_mb', '?')} MB memory, {p.get('disk_free_mb', '?')} MB disk free")
    for check in result.checks:
        line = f"  {'ok  ' if check.ok else 'FIX '} {check.name}: {check.value}"
        print(line + (f" - {check.advice}" if check.advice else ""))
    return 0


def cmd_smb(args) -> int:
    with open_catalog(args) as catalog:
        node = catalog.get_node(args.name)
        if node.transport is not Transport.WINRM:
            raise InvalidInput(f"node '{node.name}' is an {node.transport} node: SMB is for WinRM nodes")
        node.winrm = _smb_settings(args, replace(node.winrm, smb=not args.off))
        catalog.update_node(node)
    w = node.winrm
    print(f"node '{node.name}': " + (f"files over SMB share {w.smb_share} (port {w.smb_port}) when it answers, "
                                     f"else through PowerShell" if w.smb else "files through PowerShell"))
    return 0


def cmd_prepare_windows(args) -> int:
    from ..executors.winrm.setup import prepare_windows_script
    if not re.fullmatch(r"[A-Za-z0-9.:/,-]+", args.allow):
        raise InvalidInput(f"--allow '{args.allow}' is not an address, a range or LocalSubnet")
    print(prepare_windows_script(remote_address=args.allow), end="")
    return 0


def cmd_python(args) -> int:
    if (args.interpreter is None) == (not args.clear):
        raise InvalidInput("give the interpreter (labdeck node python NAME PATH) or --clear, not both or neither")
    value = "" if args.clear else check_interpreter(args.interpreter)
    if not args.clear and not value:
        raise InvalidInput("the interpreter is empty; give a path or a command, or use --clear")
    with open_engine(args) as engine:
        node = engine.catalog.get_node(args.name)
        node.python = value
        engine.catalog.update_node(node)
    print(f"node '{node.name}': .py steps run with " + (value or "the Python found on the node"))
    return 0


def cmd_remove(args) -> int:
    with open_engine(args) as engine:
        engine.nodes.remove(args.name)
    print(f"removed node '{args.name}'")
    return 0


def _ago(when: float | None) -> str:
    if not when:
        return "never"
    import time
    seconds = int(time.time() - when)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def cmd_capacity(args) -> int:
    from ..core.errors import InvalidInput
    from ..core.models import Capacity
    from ..engine.placement import node_capacity

    values = {"cpus": args.cpus, "memory_mb": args.memory_mb, "gpus": args.gpus}
    if any(v is not None and v < 0 for v in values.values()):
        raise InvalidInput("capacity values cannot be negative")
    with open_catalog(args) as catalog:
        node = catalog.get_node(args.name)
        if args.clear:
            node.capacity = Capacity()
        for key, value in values.items():
            if value is not None:
                setattr(node.capacity, key, value)
        catalog.update_node(node)
        effective = node_capacity(node)
    shown = ", ".join(f"{k} {'?' if v is None else f'{v:g}'}" for k, v in effective.items())
    print(f"node '{node.name}' offers {shown}")
    return 0


def _absolute(path: str | None) -> str | None:
    """A key file named relative to this terminal's folder, made absolute: the engine that
    connects with it runs elsewhere (``~`` stays, for the engine to expand)."""
    import os
    if not path or path.startswith("~") or os.path.isabs(path):
        return path
    return os.path.abspath(path)
