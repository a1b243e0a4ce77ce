"""What the command lines print: a name from the file system, a catalog or a photo on one line
that says exactly what it is (`escaped`), an error as one such line (`error_line`), a result as
one JSON object per line (`json_line`), and a quiet end where the reader stops early
(`quiet_pipe`). altclip-search, altclip-classify and altclip-index print through these alone."""

from __future__ import annotations

import functools
import json
import os
import sys
import unicodedata
from collections.abc import Callable

# What `escaped` writes as an escape: control characters, lone surrogates, line and paragraph
# separators, and format characters (bidi overrides and isolates, which reverse what follows
# them on a terminal; zero-width spaces and joiners, soft hyphens and byte-order marks, which
# draw nothing, so that `IMG_0001\u200b.jpg` would look like `IMG_0001.jpg`).
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# The other code points Unicode says to draw as nothing (Default_Ignorable_Code_Point, outside
# Cf): the combining grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian and
# Unicode variation selectors. Other combining marks draw something, so stay as they are.
BLANK = frozenset(
    chr(c)
    for c in (0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0)
    + tuple(range(0x180B, 0x1810))
    + tuple(range(0xFE00, 0xFE10))
    + tuple(range(0xE0100, 0xE01F0))
)


def hidden(c: str) -> bool:
    """Whether the character `c` would be invisible, or would move or reverse other text, where
    it is printed (HIDDEN_CATEGORIES, BLANK): what a file name shown to people must escape."""
    return c in BLANK or unicodedata.category(c) in HIDDEN_CATEGORIES


def escaped(path: str) -> str:
    """A file name on one line that says exactly which file: bytes that are not UTF-8 as \\xNN,
    what `hidden` calls hidden escaped (newlines and tabs as \\n and \\t, a bidi override as
    \\u202e, a zero-width space as \\u200b), a backslash doubled. For terminals and logs."""
    out = []
    for c in path:
        if "\udc80" <= c <= "\udcff":  # a byte that was not UTF-8 (surrogate escape)
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif c == "\\" or hidden(c):
            out.append(c.encode("unicode_escape").decode("ascii"))
        else:
            out.append(c)
    return "".join(out)


def error_line(e: Exception) -> str:
    """An error as one escaped line: an OSError as "what it is: path" (not "[Errno 30] ..."),
    anything else as its message."""
    if isinstance(e, OSError) and e.strerror:
        return escaped(f"{e.strerror}: {e.filename}" if e.filename else e.strerror)
    return escaped(str(e))


def json_line(row: dict) -> str:
    """One JSON object in valid UTF-8: a path's bytes that are not UTF-8 (held as lone
    surrogates) are written as JSON escapes ("\\udce9"), which json.loads and os.fsencode turn back
    into the same bytes; so is what `hidden` calls hidden ("\\u202e", "\\u200b"), which a
    terminal would not show as it is."""
    line = json.dumps(row, ensure_ascii=False)
    return "".join(_json_escape(c) if hidden(c) else c for c in line)


def _json_escape(c: str) -> str:
    """A character as JSON escapes: one, or a surrogate pair beyond U+FFFF."""
    code = ord(c)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def quiet_pipe(command: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """`command`, ending quietly where its reader stops early (`| head`), as Unix tools do."""

    @functools.wraps(command)
    def run(argv: list[str] | None = None) -> int:
        try:
            return command(argv)
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
            return 0

    return run
