"""``labdeck notify smtp``: the mail server for email notifications (the password goes to the keyring)."""

from __future__ import annotations

from ..core.errors import InvalidInput
from .argtypes import PORT
from .common import open_catalog, print_json, read_secret_from_stdin


def register(sub) -> None:
    notify = sub.add_parser("notify", help="notification settings").add_subparsers(dest="notify_command",
                                                                                   metavar="ACTION")
    notify.required = True
    smtp = notify.add_parser("smtp", help="set (or show, with no flags) the SMTP server for email notifications")
    smtp.add_argument("--host")
    smtp.add_argument("--port", type=PORT)
    smtp.add_argument("--user", help="login name; its password is read with --password-stdin")
    smtp.add_argument("--from", dest="sender", metavar="ADDRESS", help="the sender address")
    smtp.add_argument("--security", choices=["starttls", "ssl", "none"])
    smtp.add_argument("--password-stdin", action="store_true", help="read the SMTP password from standard input")
    smtp.set_defaults(handler=cmd_smtp)


def cmd_smtp(args) -> int:
    from ..engine.notify import email
    from ..store import secrets
    from ..store.jobschema import EMAIL_ADDRESS

    if args.host is not None and (not args.host.strip() or any(c.isspace() for c in args.host)):
        raise InvalidInput(f"--host '{args.host}' is not a host name or address")
    if args.sender is not None and not EMAIL_ADDRESS.fullmatch(args.sender):
        raise InvalidInput(f"--from '{args.sender}' is not an email address (name@example.org)")
    password = read_secret_from_stdin() if args.password_stdin else None
    changes = {"smtp_host": args.host, "smtp_port": None if args.port is None else str(args.port),
               "smtp_user": args.user, "smtp_from": args.sender, "smtp_security": args.security}
    with open_catalog(args) as catalog:
        for key, value in changes.items():
            if value is not None:
                catalog.set_setting(key, value)
        if password is not None:
            secrets.set_secret(email.SMTP_SECRET_REF, password)
        shown = {key: catalog.get_setting(key) for key in email.SETTINGS}
    shown["password"] = "(in the keyring)" if secrets.get_secret(email.SMTP_SECRET_REF) else "(none)"
    print_json(shown)
    return 0
