"""Reading back what LabDeck writes for PowerShell: hostile values and single-quoted strings."""

from __future__ import annotations

PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"  # the quote characters PowerShell accepts

HOSTILE = [
    "plain", "", "it's", "''", "a & b", "a | b", "a && b || c", "%PATH%", "!PATH!", "%%", "$(Get-Date)",
    "$env:USERPROFILE", "`whoami`", "back`tick", "line1\nline2", "cr\r\nlf", 'say "hi"', "^caret^",
    "a > out.txt", "<in", "semi; rm -rf /", "smart \u2018quotes\u2019 \u201a\u201b", "\u2019; calc; \u2019",
    "'; Remove-Item C:\\ -Recurse; '", "tab\there", "unicode \u00e9\u4e2d\U0001f600",
]


def read_ps_single_quoted(text: str, start: int = 0) -> tuple[str, int]:
    """PowerShell's rule for a verbatim string: it starts and ends with any single-quote
    character (' or U+2018..U+201B); inside, two of them in a row stand for one; nothing
    is expanded. Returns (value, index after the closing quote)."""
    assert text[start] in PS_SINGLE_QUOTES
    i, value = start + 1, []
    while True:
        c = text[i]
        if c in PS_SINGLE_QUOTES:
            if i + 1 < len(text) and text[i + 1] in PS_SINGLE_QUOTES:
                value.append(text[i + 1])
                i += 2
                continue
            return "".join(value), i + 1
        value.append(c)
        i += 1
