"""Showing stored strings safely: one entry is one line, control codes are visible, not obeyed.

Audit entries keep hostile input (a username with a newline, a user agent with terminal escape
codes) as given, bounded in length. Whenever such text is shown, on a terminal, in a CSV or in
HTML, it first goes through ``printable``, which replaces every control or format character
(C0, DEL, C1, bidirectional overrides, zero-width characters) by a visible escape such as
``\\n``, ``\\x1b`` or ``\\u202e``. Backslashes are doubled so the escaping cannot be forged.
"""

from __future__ import annotations

import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _needs_escape(char: str) -> bool:
    if char == "\\":
        return True
    category = unicodedata.category(char)
    # Cc: control codes; Cf: format (bidi overrides, zero-width); Zl/Zp: line and paragraph
    # separators, which break lines in some terminals and editors.
    return category in ("Cc", "Cf", "Zl", "Zp")


def printable(text: str) -> str:
    """``text`` with every control or format character shown as an escape (one line, inert)."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escape(c) if _needs_escape(c) else c for c in text)
