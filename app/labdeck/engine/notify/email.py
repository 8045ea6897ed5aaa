"""Email over SMTP. The server is in the catalog settings (smtp_host, smtp_port, smtp_user,
smtp_from, smtp_security = starttls | ssl | none); the password only in the keyring."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from ...core.events import Notification
from ...store import secrets

SMTP_SECRET_REF = "smtp"
SETTINGS = ("smtp_host", "smtp_port", "smtp_user", "smtp_from", "smtp_security")


def send(settings: dict[str, str | None], to: list[str], n: Notification, timeout: float = 20.0) -> None:
    host = settings.get("smtp_host")
    if not host:
        raise RuntimeError("no SMTP server is set: "
                           "labdeck notify smtp --host HOST [--port N] [--user U --password-stdin]")
    security = settings.get("smtp_security") or "starttls"
    port = int(settings.get("smtp_port") or (465 if security == "ssl" else 587 if security == "starttls" else 25))
    message = EmailMessage()
    message["Subject"] = f"LabDeck: {n.job_name} {n.kind}" + (f" (run {n.run_id})" if n.run_id else "")
    message["From"] = settings.get("smtp_from") or settings.get("smtp_user") or "labdeck@localhost"
    message["To"] = ", ".join(to)
    nodes = f"\nFailing nodes: {', '.join(n.failing_nodes)}" if n.failing_nodes else ""
    message.set_content(f"{n.text}{nodes}\n")
    cls = smtplib.SMTP_SSL if security == "ssl" else smtplib.SMTP
    with cls(host, port, timeout=timeout) as smtp:
        if security == "starttls":
            smtp.starttls()
        user = settings.get("smtp_user")
        if user:
            smtp.login(user, secrets.get_secret(SMTP_SECRET_REF) or "")
        smtp.send_message(message)
