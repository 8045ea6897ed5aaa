"""What every benchmark prints: rows of LabDeck's figure beside its reference, with the ratio,
the target and PASS/MISS, then free-form notes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    name: str
    labdeck: str
    reference: str
    ratio: str
    target: str
    ok: bool | None  # None: diagnostic row, no target


ROWS: list[Row] = []
NOTES: list[str] = []


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def print_table(reference_header: str = "reference") -> None:
    headers = ("benchmark", "LabDeck", reference_header, "ratio", "target", "result")
    rows = [(r.name, r.labdeck, r.reference, r.ratio, r.target,
             "-" if r.ok is None else ("PASS" if r.ok else "MISS")) for r in ROWS]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print()
    print(line.format(*headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))
    print()
    for note in NOTES:
        print("note:", note)
