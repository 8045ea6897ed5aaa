"""Argument types for the command line's flags: whole numbers and seconds within a range, and
record ids, each refusing a bad value with a message that says what the flag takes. argparse
turns them into ``labdeck: error: argument --limit: ...`` (see OneLineParser)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

MAX_RECORD_ID = 2**63 - 1  # SQLite's largest integer


class OneLineParser(argparse.ArgumentParser):
    """argparse prints its usage before an error; LabDeck's errors are one line on stderr."""

    def error(self, message: str):
        self.exit(2, f"labdeck: error: {message} (see: {self.prog} --help)\n")


def whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low:,} to {high:,}, got '{text}'") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:,} to {high:,}, got {value}")
        return value
    parse.__name__ = "whole number"
    return parse


def seconds(low: float, high: float, low_included: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        above_low = value >= low if low_included else value > low
        if not math.isfinite(value) or not above_low or value > high:
            sign = ">=" if low_included else ">"
            raise argparse.ArgumentTypeError(f"must be a number of seconds {sign} {low:g} and at most {int(high):,}, "
                                             f"got '{text}'")
        return value
    parse.__name__ = "seconds"
    return parse


def record_id(what: str) -> Callable[[str], int]:
    """A run or schedule id: a whole number the catalog can hold (a larger one overflowed SQLite)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a {what} id (a whole number), got '{text}'") from None
        if not 1 <= value <= MAX_RECORD_ID:
            raise argparse.ArgumentTypeError(f"there is no {what} {value}: {what} ids are whole numbers from 1")
        return value
    parse.__name__ = f"{what} id"
    return parse


PORT = whole_number(1, 65535)
RUN_ID = record_id("run")
SCHEDULE_ID = record_id("schedule")


def path_text(what: str, hint: str) -> Callable[[str], str]:
    """A path given on the command line: an empty or blank one is refused where it enters (it
    would otherwise name this folder or the login folder, and copy far more than meant)."""
    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"an empty {what} names nothing: {hint}")
        return text
    parse.__name__ = what
    return parse
