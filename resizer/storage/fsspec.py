"""Object stores (S3, GCS, Azure, ...) through fsspec: one listing, whole-object reads and writes.

An object store has no rename, so there is no temporary object: each output is one PUT, which
readers see whole or not at all. Transient errors are retried by the store's own client (for S3,
botocore's retry modes: AWS_RETRY_MODE, AWS_MAX_ATTEMPTS; and s3fs's own retries of throttling);
what still fails becomes a failed record that a re-run redoes.

One `ObjectStore` per root URL and process (workers build their own from the settings), cached,
so a worker reads and writes many objects through one client.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from ..settings import OptionError
from . import cause, shown

BLOCK = 8 << 20  # bytes read per request when an object is streamed
UPLOAD_PART = 16 << 20  # bytes per part of a streaming upload (S3: 5 MiB at least)


class StoreError(OSError):
    """The store's client failed without an OS error: no credentials, no connection, a
    malformed answer. An OSError, so that callers treat it as any other failed read or write."""


def translated(function):
    """Errors of the store's client as OSErrors (OSErrors, such as FileNotFoundError, as they
    are), with the cause in words: never a client library's traceback."""

    @functools.wraps(function)
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (OSError, NotImplementedError):
            raise
        except Exception as error:
            if type(error).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
                raise StoreError(
                    "no credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                    "AWS_PROFILE, or use an instance role)"
                ) from None
            raise StoreError(str(error).strip() or type(error).__name__) from None

    return call


@dataclass(frozen=True)
class Entry:
    """One object under a root: its name relative to the root, size and ETag (the version the
    up-to-date check compares), and its modification time in seconds if the store says."""

    name: str
    size: int
    etag: str | None
    mtime: float | None = None


@lru_cache(maxsize=32)
def open_store(url: str, options: tuple[tuple[str, str], ...] = ()) -> ObjectStore:
    """The store for the root `url` in this process (cached: one client per root)."""
    return ObjectStore(url, options)


@lru_cache(maxsize=8)
def filesystem(protocol: str, options: tuple[tuple[str, str], ...] = ()):
    """The fsspec file system for a protocol and options, one per process."""
    try:
        import fsspec
    except ImportError:
        raise OptionError(
            f"{protocol}:// needs fsspec (for S3: pip install 'resizer[s3]')"
        ) from None
    try:
        return fsspec.filesystem(protocol, **_typed(dict(options)))
    except ImportError as error:  # fsspec names the package to install
        raise OptionError(f"{protocol}:// URLs: {error}") from None
    except (ValueError, TypeError) as error:  # an option the store does not take
        raise OptionError(f"--storage-option for {protocol}://: {cause(error)}") from None


@translated
def read_url(url: str, options: tuple[tuple[str, str], ...] = ()) -> bytes:
    """One whole object named by its URL (a source), through this process's client."""
    fs = filesystem(url.split("://", 1)[0], options)
    return _cat(fs, fs._strip_protocol(url))


def _cat(fs, path: str) -> bytes:
    """One GET: s3fs would first ask for the size (a HEAD) to split large reads."""
    if fs.protocol[0] in ("s3", "s3a"):
        return fs.cat_file(path, max_concurrency=1)
    return fs.cat_file(path)


class ObjectStore:
    """A root URL on an fsspec file system; names are POSIX paths relative to the root."""

    def __init__(self, url: str, options: tuple[tuple[str, str], ...] = ()):
        self.url = url
        self.shown = shown(url)
        self.fs = filesystem(url.split("://", 1)[0], options)
        self.root = self.fs._strip_protocol(url).rstrip("/")

    def path(self, name: str) -> str:
        return f"{self.root}/{name}" if name else self.root

    def iter_entries(self, prefix: str = "") -> Iterator[Entry]:
        """Every object under the root (whose name starts with `prefix`), streamed from one
        recursive listing (one request per 1,000 objects on S3) in name order, as Python's
        `sorted()` orders str: S3 lists keys in UTF-8 byte order, which is that order. The
        root itself, if it is an object (and no prefix is asked for), is listed as ''."""
        if self.fs.protocol[0] in ("s3", "s3a"):
            found = False
            for entry in self._s3_pages(prefix):
                found = True
                yield entry
            if not found and not prefix:
                root = self.info("")
                if root is not None:
                    yield root
            return
        yield from self._found(prefix)  # other stores: fsspec's listing, held whole

    @translated
    def _s3_page(self, bucket: str, key_prefix: str, token: str | None) -> dict:
        """One ListObjectsV2 page, through s3fs's client (and its retries)."""
        from fsspec.asyn import sync

        kwargs = {"Bucket": bucket, "Prefix": key_prefix}
        if token:
            kwargs["ContinuationToken"] = token
        return sync(self.fs.loop, self.fs._call_s3, "list_objects_v2", **kwargs)

    def _s3_pages(self, prefix: str) -> Iterator[Entry]:
        bucket, _, key = self.root.partition("/")
        start = f"{key}/" if key else ""
        token = None
        while True:
            page = self._s3_page(bucket, start + prefix, token)
            for item in page.get("Contents", []):
                name = item["Key"][len(start) :]
                if name and not name.endswith("/"):
                    yield _entry(name, {**item, "size": item.get("Size")})
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    @translated
    def _found(self, prefix: str) -> Iterator[Entry]:
        found = self.fs.find(self.root, detail=True, withdirs=False)
        entries = []
        start = self.root + "/"
        for path, info in found.items():
            path = path.rstrip("/")
            if path == self.root:
                name = ""
            elif path.startswith(start):
                name = path[len(start) :]
            else:
                continue
            if info.get("type", "file") == "file" and name.startswith(prefix):
                entries.append(_entry(name, info))
        return iter(sorted(entries, key=lambda entry: entry.name))

    def entries(self, prefix: str = "") -> dict[str, Entry]:
        """The objects under the root by name, for a small prefix (held whole)."""
        return {entry.name: entry for entry in self.iter_entries(prefix)}

    @translated
    def read(self, name: str) -> bytes:
        return _cat(self.fs, self.path(name))

    @translated
    def info(self, name: str) -> Entry | None:
        try:
            info = self.fs.info(self.path(name))
        except FileNotFoundError:
            return None
        return _entry(name, info) if info.get("type", "file") == "file" else None

    @translated
    def write(self, name: str, data: bytes, **conditions) -> None:
        """One whole-object write: readers see the old object or the new one."""
        self.fs.pipe_file(self.path(name), data, **conditions)

    @translated
    def upload(self, name: str, local: str) -> None:
        """A local file as one object (multipart for large ones, completed at once)."""
        self.fs.put_file(local, self.path(name))

    @translated
    def create(self, name: str, data: bytes) -> bool:
        """Write only if absent (S3's If-None-Match); False if the object exists. A store whose
        fsspec driver cannot ask for that raises NotImplementedError."""
        try:
            self.fs.pipe_file(self.path(name), data, mode="create")
        except FileExistsError:
            return False
        except TypeError:
            raise NotImplementedError(f"{self.shown}: no create-if-absent write") from None
        return True

    @translated
    def replace(self, name: str, data: bytes, etag: str) -> bool:
        """Overwrite only the version `etag` (S3's If-Match); False if it changed meanwhile."""
        if self.fs.protocol[0] not in ("s3", "s3a"):
            raise NotImplementedError(f"{self.shown}: no conditional replace")
        try:
            self.write(name, data, IfMatch=f'"{etag}"')
        except (FileExistsError, FileNotFoundError):
            return False
        except OSError as error:  # s3fs maps 412 Precondition Failed to EINVAL
            if "pre-condition" in str(error).lower() or "precondition" in str(error).lower():
                return False
            raise
        return True

    @translated
    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(name))

    @translated
    def remove_many(self, names: list[str]) -> None:
        """Delete many objects (S3: up to 1,000 per DeleteObjects request)."""
        if names:
            self.fs.rm([self.path(name) for name in names])

    @translated
    def read_many(self, names: list[str]) -> dict[str, bytes]:
        """Small whole objects, fetched concurrently (a staged image each): name -> bytes."""
        paths = {self.path(name): name for name in names}
        found = self.fs.cat(list(paths), on_error="raise")
        return {paths[self.fs._strip_protocol(path)]: data for path, data in found.items()}

    @translated
    def download(self, name: str, local: str) -> None:
        self.fs.get_file(self.path(name), local)

    @contextlib.contextmanager
    def open_write(self, name: str) -> Iterator:
        """A streaming upload (S3: multipart, in parts of UPLOAD_PART bytes) that becomes the
        object `name` only when the block ends without an error: on an error the upload is
        aborted and no object, not even a part of one, appears under that name."""
        handle = _opened(self.fs, self.path(name))
        try:
            yield handle
            _closed(handle)
        except BaseException:
            with contextlib.suppress(Exception):
                handle.discard()  # S3: AbortMultipartUpload
            handle.closed = True  # never committed, not even when collected
            raise

    @translated
    def same_bytes(self, name: str, local: str) -> bool:
        """Whether the object `name` holds exactly the bytes of the local file, compared as
        streams block by block, and only when the sizes agree (a manifest of millions of
        records is never held whole)."""
        entry = self.info(name)
        if entry is None or entry.size != os.path.getsize(local):
            return False
        with open(local, "rb") as mine, self.open_read(name) as theirs:
            while block := mine.read(BLOCK):
                if theirs.read(len(block)) != block:
                    return False
        return True

    @translated
    def open_read(self, name: str):
        """The object as a seekable binary stream (ranged GETs of BLOCK bytes as it is read)."""
        return self.fs.open(self.path(name), "rb", block_size=BLOCK)

    @translated
    def write_text_if_changed(self, name: str, write) -> bool:
        """Stream text through `write(handle)` into a local temporary file, then upload it as
        one object unless the object already holds the same bytes; returns whether it changed."""
        folder = tempfile.mkdtemp(prefix="resizer-")
        try:
            local = os.path.join(folder, "upload")
            with open(local, "w", encoding="utf-8", newline="") as handle:
                write(handle)
            if self.same_bytes(name, local):
                return False
            self.upload(name, local)
            return True
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@translated
def _opened(fs, path: str):
    return fs.open(path, "wb", block_size=UPLOAD_PART)


@translated
def _closed(handle) -> None:
    handle.close()  # completes the upload: the object appears whole


def _entry(name: str, info: dict) -> Entry:
    mtime = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
    stamp = mtime.timestamp() if hasattr(mtime, "timestamp") else None
    return Entry(name, int(info.get("size") or 0), _etag(info), stamp)


def _etag(info: dict) -> str | None:
    """What changes when an object is rewritten: its ETag (S3, Azure), else its MD5 or CRC
    (GCS), without quotes."""
    for key in ("ETag", "etag", "md5Hash", "md5_hash", "crc32c"):
        value = info.get(key)
        if value:
            return str(value).strip('"')
    return None


def _typed(options: dict[str, str]) -> dict:
    """`--storage-option` values are text; fsspec wants numbers and booleans as such, and for
    S3 the endpoint and region inside `client_kwargs`."""
    typed: dict = {}
    for name, text in options.items():
        value: object = text
        if text.lower() in ("true", "false"):
            value = text.lower() == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(text)
                    break
                except ValueError:
                    continue
        if name in ("endpoint_url", "region_name"):
            typed.setdefault("client_kwargs", {})[name] = value
        else:
            typed[name] = value
    return typed
