"""File names that are not valid UTF-8, written as text without losing a byte.

Linux allows any bytes in a name; Python hands an undecodable byte to us as a lone surrogate
(U+DC80..U+DCFF, the "surrogateescape" error handler), which no UTF-8 writer accepts. One
undecodable name must never cost the manifest or crash a print, so every text that may carry a
name goes through here:

- JSON (`json_text`): the surrogate becomes the JSON escape `\\udcXX`, so the line is ASCII
  where it matters and `os.fsencode(json.loads(line)["source"])` gives back the exact bytes.
- Plain text (`escape`, for CSV and messages): the surrogate becomes the literal text
  `\\udcXX`; a backslash that would otherwise read as the start of such an escape is doubled,
  so `unescape(escape(name)) == name` for every name.
"""

from __future__ import annotations

import json
import re

# Any lone surrogate (names only ever hold U+DC80..U+DCFF) would make the text unencodable.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Backslash runs directly before an escape-shaped text or a surrogate: doubled on the way out.
_BACKSLASHES_BEFORE = re.compile(r"(\\+)(?=udc[89a-f][0-9a-f]|[\udc80-\udcff])")
_ESCAPED = re.compile(r"(\\+)(udc[89a-f][0-9a-f])")


def _code(match: re.Match) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_text(value, **options) -> str:
    """`json.dumps(value, ensure_ascii=False)`, with undecodable name bytes as `\\udcXX`."""
    text = json.dumps(value, ensure_ascii=False, **options)
    return _SURROGATE.sub(_code, text) if _SURROGATE.search(text) else text


def escape(text: str) -> str:
    """`text` printable and UTF-8-encodable: undecodable bytes as the literal text `\\udcXX`."""
    if "\\" not in text and (text.isascii() or not _SURROGATE.search(text)):
        return text
    text = _BACKSLASHES_BEFORE.sub(lambda match: match.group(1) * 2, text)
    return _SURROGATE.sub(_code, text)


def unescape(text: str) -> str:
    """The inverse of `escape`: the name as Python's surrogateescape string."""
    if "\\" not in text:
        return text

    def restore(match: re.Match) -> str:
        run, code = match.group(1), match.group(2)
        if len(run) % 2:
            return "\\" * (len(run) // 2) + chr(int(code[1:], 16))
        return "\\" * (len(run) // 2) + code

    return _ESCAPED.sub(restore, text)
