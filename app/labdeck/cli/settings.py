"""``labdeck setting [NAME [VALUE]]``: show or change the engine settings a user may tune."""

from __future__ import annotations

import difflib

from ..core.errors import InvalidInput
from .common import open_catalog, print_table

MAX_SETTING = 10 * 365 * 86400  # ten years of seconds; far beyond any day count too


def tunable() -> dict[str, tuple[float, str]]:
    """name -> (default, meaning); imported when asked (engine.detached loads the executors)."""
    from ..engine.detached import DEFAULT_RETENTION_DAYS, RETENTION_SETTING
    from ..engine.health import DEFAULT_PROBE_S, PROBE_SETTING
    from ..engine.heartbeat import DEFAULT_HEARTBEAT_S, HEARTBEAT_SETTING
    return {
        PROBE_SETTING: (DEFAULT_PROBE_S, "seconds between two probes of a node that answers (one that does not is "
                                         "probed after 2 s, 4 s, ... up to this)"),
        HEARTBEAT_SETTING: (DEFAULT_HEARTBEAT_S, "seconds a node may stay silent before its detached runs are "
                                                 "node_lost"),
        RETENTION_SETTING: (DEFAULT_RETENTION_DAYS, "days a finished detached run's folder is kept on its node"),
    }


def register(sub) -> None:
    cmd = sub.add_parser("setting", help="show or change a setting (heartbeat_s, detached_retention_days, probe_s)")
    cmd.add_argument("name", nargs="?")
    cmd.add_argument("value", nargs="?", help="a new value (a positive number)")
    cmd.set_defaults(handler=cmd_setting)


def cmd_setting(args) -> int:
    TUNABLE = tunable()
    if args.name is not None and args.name not in TUNABLE:
        close = difflib.get_close_matches(args.name, TUNABLE, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise InvalidInput(f"there is no setting '{args.name}'; {hint}the settings: {', '.join(sorted(TUNABLE))}")
    with open_catalog(args) as catalog:
        if args.value is not None:
            try:
                value = float(args.value)
            except ValueError:
                value = -1.0
            if not 0 < value <= MAX_SETTING:  # nan and inf fail this too
                raise InvalidInput(f"setting '{args.name}' needs a positive number up to {MAX_SETTING:,}, "
                                   f"not '{args.value}'")
            catalog.set_setting(args.name, f"{value:g}")
        names = [args.name] if args.name else sorted(TUNABLE)
        rows = [[name, catalog.get_setting(name) or f"{TUNABLE[name][0]:g}", TUNABLE[name][1]] for name in names]
    print_table(["SETTING", "VALUE", "MEANING"], rows)
    return 0
