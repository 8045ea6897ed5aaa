"""Rundeck job settings to a LabDeck policy and schedules (rundeck_convert.py does the rest):
thread count, timeout, retry, notifications and multiple executions to the policy; the Quartz
schedule to a cron schedule when it is exact (quartz.py), in the job's time zone."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..core.errors import InvalidInput, LabDeckError
from ..core.models import JobPolicy
from ..core.schedules import Schedule, ScheduleKind, parse_cron, parse_duration, parse_tz
from .quartz import QuartzNotExact, quartz_to_cron

if TYPE_CHECKING:
    from .rundeck_convert import JobConversion


def is_true(value) -> bool:
    return value is True or str(value).strip().lower() == "true"


# ---- policy: threads, timeout, retry, notifications, overlap --------------------------------------

def convert_policy(doc: dict, result: JobConversion) -> JobPolicy:
    policy = JobPolicy()
    dispatch = (doc.get("nodefilters") or {}).get("dispatch") or {}
    threads = dispatch.get("threadcount")
    if threads not in (None, ""):
        try:
            policy.max_parallel = max(0, int(str(threads)))
        except ValueError:
            result.not_converted.append(f"thread count '{threads}' (not a number)")
        else:
            result.converted.append(f"thread count {threads} -> max parallel {policy.max_parallel}")
    elif (doc.get("nodefilters") or {}).get("filter"):
        # Rundeck dispatches to one node at a time unless a thread count says otherwise
        policy.max_parallel = 1
        result.converted.append("no thread count: one node at a time, as in Rundeck (max parallel 1)")
    if dispatch.get("keepgoing") in (False, "false") and (policy.max_parallel or 0) != 1:
        result.not_converted.append("dispatch keepgoing: false (LabDeck finishes the other nodes when one fails)")
    if dispatch.get("rankAttribute") or dispatch.get("rankOrder") not in (None, "ascending"):
        result.not_converted.append("node rank order")
    timeout = _duration_text(doc.get("timeout"))
    if timeout:
        try:
            policy.max_runtime_s = parse_duration(timeout)
        except InvalidInput:
            result.not_converted.append(f"timeout '{timeout}' (not a fixed duration)")
        else:
            result.converted.append(f"timeout {timeout} -> the whole run's limit (max runtime, no restart)")
    _retry(doc.get("retry"), policy, result)
    _notifications(doc.get("notification"), policy, result)
    if doc.get("notifyAvgDurationThreshold") or ((doc.get("notification") or {}).get("onavgduration")):
        result.not_converted.append("the average-duration notification (LabDeck has expected_duration_s: set it)")
    if is_true(doc.get("multipleExecutions")):
        policy.overlap = "parallel"
        result.converted.append("multiple executions -> overlap parallel")
    if doc.get("plugins"):
        result.not_converted.append("execution life-cycle plugins")
    return policy


def _duration_text(raw) -> str:
    """Rundeck's duration as LabDeck reads one: '' for none (blank or 0 is "no limit" there),
    units written apart ('1d 12h') together."""
    text = re.sub(r"\s+", "", str(raw if raw is not None else ""))
    return "" if text in ("", "0") else text


def _retry(raw, policy: JobPolicy, result: JobConversion) -> None:
    if raw in (None, "", 0, "0"):
        return
    count, delay = (raw.get("retry"), raw.get("delay")) if isinstance(raw, dict) else (raw, None)
    try:
        policy.retries = int(str(count))
    except ValueError:
        result.not_converted.append(f"retry '{count}' (not a number)")
        return
    text = f"retry {count}"
    delay = _duration_text(delay)
    if delay:
        try:
            policy.retry_delay_s = parse_duration(delay)
            text += f" after {delay}"
        except InvalidInput:
            result.not_converted.append(f"retry delay '{delay}' (not a fixed duration)")
    result.converted.append(text + " (per node run in LabDeck, the whole job in Rundeck)")


def _notifications(raw, policy: JobPolicy, result: JobConversion) -> None:
    policy.notify_on = ["failed", "missed"]  # LabDeck's default: the tray (and any address) hears of these
    if not raw:
        return
    for trigger in ("onfailure", "onsuccess"):
        settings = raw.get(trigger)
        if not settings:
            continue
        if trigger == "onsuccess":
            policy.notify_on.insert(1, "succeeded")
        email = settings.get("email") or {}
        for address in re.split(r"[,\s]+", str(email.get("recipients") or "")):
            if "${" in address:
                result.not_converted.append(f"{trigger}: e-mail to '{address}' (a Rundeck variable)")
            elif address and address not in policy.notify_emails:
                policy.notify_emails.append(address)
        for url in re.split(r"[,\s]+", str(settings.get("urls") or "")):
            if url and url not in policy.notify_webhooks:
                policy.notify_webhooks.append(url)
        for plugin in settings.get("plugin") or []:
            plugin_type = plugin.get("type", "?") if isinstance(plugin, dict) else plugin
            result.not_converted.append(f"{trigger}: notification plugin '{plugin_type}'")
        result.converted.append(f"{trigger} notifications")
    for trigger in sorted(set(raw) - {"onfailure", "onsuccess", "onavgduration"}):
        result.not_converted.append(f"{trigger} notifications (LabDeck notifies on failure, success, missed fires "
                                    "and overlong runs)")
    if raw.get("onfailure") and raw.get("onsuccess"):
        result.not_converted.append("separate recipients for failure and success: LabDeck sends both to all of them")


# ---- schedule --------------------------------------------------------------------------------

def convert_schedules(doc: dict, result: JobConversion, default_tz: str) -> list[Schedule]:
    raw = doc.get("schedule")
    if not raw:
        return []
    quartz = _quartz_text(raw)
    tz = str(doc.get("timeZone") or default_tz)
    try:
        parse_tz(tz)
        cron = quartz_to_cron(quartz)
        parse_cron(cron, tz)
    except QuartzNotExact as exc:
        result.not_converted.append(f"schedule '{quartz}': {exc}")
        return []
    except LabDeckError as exc:
        result.not_converted.append(f"schedule '{quartz}': {exc}")
        return []
    enabled = doc.get("scheduleEnabled") not in (False, "false")
    disabled = "" if enabled else " (disabled, as it was)"
    result.converted.append(f"schedule '{quartz}' -> cron '{cron}' {tz}{disabled}")
    return [Schedule(job_name=result.name, kind=ScheduleKind.CRON, expr=cron, tz=tz, enabled=enabled)]


def _quartz_text(raw) -> str:
    if isinstance(raw, str):
        return raw
    if raw.get("crontab"):
        return str(raw["crontab"])
    time = raw.get("time") or {}
    weekday, dom = raw.get("weekday"), raw.get("dayofmonth")
    if weekday:
        day_of_month, day_of_week = "?", str(weekday.get("day", "*"))
    elif dom:
        day_of_month, day_of_week = str(dom.get("day", "*")), "?"
    else:
        day_of_month, day_of_week = "*", "?"
    return " ".join([str(time.get("seconds", "0")), str(time.get("minute", "0")), str(time.get("hour", "0")),
                     day_of_month, str(raw.get("month", "*")), day_of_week, str(raw.get("year", "*"))])
