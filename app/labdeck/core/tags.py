"""What a node's tag may be: the characters a target spec can name (``tag:gpu``) without
them meaning something else there (``,`` union, ``&`` intersection, ``!`` exclude, ``:``)."""

from __future__ import annotations

from .errors import InvalidInput
from .names import NAME_CHARS

MAX_TAG = 64


def check_tags(tags: list[str]) -> list[str]:
    """The tags as given, or InvalidInput naming the first bad one and what a tag may contain."""
    for tag in tags:
        if not NAME_CHARS.fullmatch(tag) or tag in (".", "..") or len(tag) > MAX_TAG:
            shown = tag.encode("unicode_escape").decode("ascii")  # a control character shows as \x07
            raise InvalidInput(f"invalid tag '{shown}': a tag is 1-{MAX_TAG} letters, digits, '-', '_' or '.' "
                               f"(not '.' or '..'), so that tag:NAME in a target spec can name it")
    return tags
