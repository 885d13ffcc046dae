"""Where sources are read and outputs written: a local folder, or an object store through fsspec.

A location is a `Path` (a local file or folder) or a `str` holding a URL (`s3://bucket/prefix`,
`gs://...`, `az://...`): a Path would collapse `s3://` into `s3:/`, so URLs never become one.
`file://` URLs are local paths and become a Path, keeping the local guarantees (atomic renames,
the kernel's lock). Every consumer goes through the helpers here (`location`, `join`, `shown`)
and, for URLs, through `fsspec.py` (listing, reads, whole-object writes), `lock.py` and
`journal.py`.

Credentials never pass through resizer's options: they come from the environment or fsspec's own
configuration, so that none can end up in a manifest, a run record, a message or a shell history.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
# Option names that carry secrets (refused: credentials come from the environment only).
SECRET_WORDS = ("secret", "password", "passwd", "token", "credential", "session", "sas", "auth")
SECRET_NAMES = {"key", "account_key", "connection_string", "access_key", "access_key_id"}

Location = Path | str  # str: a URL of an object store


class StorageError(Exception):
    """A URL or a storage option that cannot be used: a usage error (exit 2)."""


def is_url(value: object) -> bool:
    """True for a location held as a URL of an object store (never for a Path)."""
    return isinstance(value, str) and URL.match(value) is not None


def location(value: str | Path) -> Location:
    """A SRC, OUT or manifest as given: a URL stays text (without a trailing slash), a
    `file://` URL and anything else become a Path."""
    if isinstance(value, Path) or not URL.match(str(value)):
        return Path(value)
    text = str(value)
    if text.lower().startswith("file://"):
        return Path(unquote(urlsplit(text).path))
    check_url(text)
    scheme, rest = text.split("://", 1)
    return f"{scheme.lower()}://{rest.rstrip('/')}"


def join(root: Location, relative: str) -> Location:
    """`root / relative` for either kind of location."""
    if is_url(root):
        return f"{root}/{relative}" if relative else root
    return Path(root) / relative


def parent(loc: Location) -> Location:
    if is_url(loc):
        scheme, rest = loc.split("://", 1)
        head = rest.rsplit("/", 1)[0] if "/" in rest else rest
        return f"{scheme}://{head}"
    return Path(loc).parent


def base_name(loc: Location) -> str:
    if is_url(loc):
        return loc.rsplit("/", 1)[-1] if "/" in loc.split("://", 1)[1] else loc.split("://")[1]
    return Path(loc).name


def shown(loc: Location | None) -> str:
    """A location for messages and records: a URL without any user name or password."""
    if loc is None:
        return ""
    if not is_url(loc):
        return str(loc)
    parts = urlsplit(loc)
    if "@" not in parts.netloc:
        return loc
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def check_url(url: str) -> None:
    """Refuse a URL carrying a password: it would be typed, logged and recorded."""
    netloc = urlsplit(url).netloc
    if "@" in netloc and ":" in netloc.rsplit("@", 1)[0]:
        raise StorageError(
            f"{shown(url)!r}: the URL carries a password; give credentials through the "
            "environment (e.g. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) or fsspec's "
            "configuration, never in a URL"
        )


def parse_options(
    given: Mapping[str, object] | Iterable[str] | None,
) -> tuple[tuple[str, str], ...]:
    """`--storage-option KEY=VALUE` (repeatable) or a dict, as sorted (key, text) pairs;
    secret-looking keys are refused."""
    if given is None:
        return ()
    if isinstance(given, Mapping):
        pairs = [(str(key), value) for key, value in given.items()]
    else:
        if isinstance(given, str):
            given = (given,)
        pairs = []
        for item in given:
            key, sep, value = str(item).partition("=")
            if not sep or not key.strip():
                raise StorageError(f"--storage-option {item!r} is not KEY=VALUE")
            pairs.append((key.strip(), value))
    check_options(key for key, _ in pairs)
    for key, value in pairs:
        if not isinstance(value, str | int | float | bool):
            raise StorageError(f"--storage-option {key}: give a text, number or boolean value")
    return tuple(sorted((key, _text(value)) for key, value in pairs))


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def check_options(names: Iterable[str]) -> None:
    """Refuse secrets given as storage options: they would be recorded with the run."""
    for name in names:
        lowered = name.lower()
        if lowered in SECRET_NAMES or any(word in lowered for word in SECRET_WORDS):
            raise StorageError(
                f"--storage-option {name}=... looks like a credential; give credentials "
                "through the environment (e.g. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) or "
                "fsspec's configuration, never as an option"
            )


# fsspec's drivers for the usual stores, to import once before workers start.
DRIVERS = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
}


def drivers(settings) -> tuple[str, ...]:
    """The modules a run's workers need for its URLs (SRC, OUT)."""
    schemes = {loc.split("://", 1)[0] for loc in (*settings.sources, settings.out) if is_url(loc)}
    return (
        tuple(sorted({"fsspec", *(DRIVERS[s] for s in schemes if s in DRIVERS)})) if schemes else ()
    )


def cause(error: BaseException) -> str:
    """An object store's error in words, without the URL or key it was about."""
    if isinstance(error, PermissionError):
        return "access denied"
    if isinstance(error, FileNotFoundError):
        text = str(error).lower()
        return "no such bucket" if "bucket" in text else "not found"
    text = str(error).strip() or type(error).__name__
    return text[0].lower() + text[1:]
