"""A notebook with its files: an Object Storage folder or a `.zip` / `.tar.gz` archive.

`noteBook` names a source when it is an `oci://bucket@namespace/prefix/` folder (the
trailing `/`), an archive (`oci://` or guarded `https://`, ending `.zip` or `.tar.gz`), or,
where `NL_ALLOW_LOCAL_NOTEBOOKS` allows local paths, a local folder or archive. Everything is
fetched into memory and checked before anything is created:

- listing and fetching are bounded by `NL_SOURCE_MAX_FILES`, `NL_SOURCE_MAX_BYTES` (the files
  together, and an archive's own size), `NL_SOURCE_MAX_FILE_BYTES`, `NL_SOURCE_MAX_DEPTH` and
  the invocation's deadline; a folder's sizes are checked from its listing, before any file
  is read, and an archive's from its entries' declared sizes, before any is unpacked (reads
  never go past what an entry declares, so a zip bomb stops at the limit);
- every path follows `notebook_launcher.oci_facts.archive_paths` (the local service checks artifacts
  with the same rule): no absolute paths, no `..`, no links leaving the folder (a link to a
  file inside ships as a copy of that file), nothing but files, folders and links.

Every refusal is a NotebookFetchError naming the file and the limit or rule.
"""

from __future__ import annotations

import io
import logging
import os
import posixpath
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from notebook_launcher.function.deadline import Deadline
from notebook_launcher.function.errors import (
    FieldProblem,
    InvalidRequestError,
    NotebookFetchError,
)
from notebook_launcher.function.notebook_fetch import ObjectReader, fetch_url
from notebook_launcher.function.settings import Settings
from notebook_launcher.oci_facts.archive_paths import link_target, member_problem, shown_name
from notebook_launcher.oci_facts.object_uri import ObjectUri

logger = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".zip", ".tar.gz")
MAX_LINK_HOPS = 8  # a link to a link to ... a file
MAX_LINK_TARGET_BYTES = 4096
# Bytes a tar stream may hold beyond its files' contents: a 512-byte header and up to 511
# bytes of padding per member, long-name and pax records, the end blocks and record padding.
TAR_OVERHEAD_PER_MEMBER = 4096
TAR_OVERHEAD = 20480
# A folder name in the artifact (code/<name>/): ADS names the artifact zip after it and cuts
# it at the first dot, so only letters, digits, _ and -.
_FOLDER_NAME_RE = re.compile(r"[^A-Za-z0-9_-]+")


class FolderLister(ObjectReader, Protocol):
    """Lists and reads Object Storage objects (the function's principal)."""

    def list_objects(
        self, namespace: str, bucket: str, prefix: str, max_entries: int, deadline: Deadline
    ) -> list[tuple[str, int]]: ...


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the source's top, `/`-separated
    content: bytes


@dataclass(frozen=True)
class NotebookSource:
    """A folder's files, checked; the notebook among them."""

    name: str  # the folder's name in the artifact: code/<name>/...
    notebook: str  # the notebook's path among files
    files: tuple[SourceFile, ...]  # sorted by path
    location: str

    @property
    def total_bytes(self) -> int:
        return sum(len(f.content) for f in self.files)

    def content_of(self, path: str) -> bytes:
        return next(f.content for f in self.files if f.path == path)


@dataclass(frozen=True)
class SourceLimits:
    max_files: int
    max_bytes: int
    max_file_bytes: int
    max_depth: int

    @classmethod
    def of(cls, settings: Settings) -> SourceLimits:
        return cls(
            max_files=settings.source_max_files,
            max_bytes=settings.source_max_bytes,
            max_file_bytes=settings.source_max_file_bytes,
            max_depth=settings.source_max_depth,
        )


def is_archive(location: str) -> bool:
    try:
        path = urlsplit(location).path if "://" in location else location
    except ValueError:  # a malformed URL: not an archive; the fetch refuses it, saying why
        return False
    return path.lower().endswith(ARCHIVE_SUFFIXES)


def is_source(location: str, settings: Settings) -> bool:
    """Whether noteBook names a folder or an archive (rather than one .ipynb)."""
    if location.lower().startswith("oci://"):
        return location.endswith("/") or is_archive(location)
    if location.lower().startswith(("https://", "http://")):
        return is_archive(location)
    if "://" in location or not settings.allow_local_notebooks:
        return False
    try:
        return is_archive(location) or Path(location).expanduser().is_dir()
    except (OSError, ValueError):
        return False


def notebook_path_problem(path: str) -> str | None:
    """Why `notebookPath` is not a usable path of a notebook inside a source, or None."""
    if problem := member_problem(path):
        return f"must be a relative path inside the folder (it has {problem})"
    if path.endswith("/") or not path.endswith(".ipynb"):
        return "must name a .ipynb file"
    return None


def folder_name(raw: str) -> str:
    """The artifact's folder name for a source whose last path segment is raw."""
    for suffix in ARCHIVE_SUFFIXES:
        if raw.lower().endswith(suffix):
            raw = raw[: -len(suffix)]
    name = _FOLDER_NAME_RE.sub("_", raw).strip("_")[:100]
    return name or "source"


class _Budget:
    """Counts files and bytes against the limits; each refusal names the file and the key."""

    def __init__(self, limits: SourceLimits, what: str) -> None:
        self.limits = limits
        self.what = what
        self.files = 0
        self.bytes = 0

    def refuse(self, message: str) -> NotebookFetchError:
        return NotebookFetchError(f"noteBook {self.what}: {message}")

    def check_path(self, path: str) -> None:
        if problem := member_problem(path):
            raise self.refuse(f"{shown_name(path)} is refused: {problem}.")
        depth = path.rstrip("/").count("/")
        if depth > self.limits.max_depth:
            raise self.refuse(
                f"{shown_name(path)} is {depth} folders deep; "
                f"NL_SOURCE_MAX_DEPTH is {self.limits.max_depth}."
            )

    def add(self, path: str, size: int) -> None:
        self.check_path(path)
        self.files += 1
        if self.files > self.limits.max_files:
            raise self.refuse(
                f"more than {self.limits.max_files} files (at {shown_name(path)}); "
                f"NL_SOURCE_MAX_FILES is {self.limits.max_files}."
            )
        if size > self.limits.max_file_bytes:
            raise self.refuse(
                f"{shown_name(path)} is {size} bytes; NL_SOURCE_MAX_FILE_BYTES is "
                f"{self.limits.max_file_bytes}."
            )
        self.bytes += size
        if self.bytes > self.limits.max_bytes:
            raise self.refuse(
                f"the files add up to more than {self.limits.max_bytes} bytes "
                f"(at {shown_name(path)}); "
                f"NL_SOURCE_MAX_BYTES is {self.limits.max_bytes}."
            )


def fetch_source(
    location: str,
    notebook: str | None,
    settings: Settings,
    objects: FolderLister | None,
    deadline: Deadline,
) -> NotebookSource:
    """Fetch and check the folder or archive at location; its notebook is `notebook` or the
    only .ipynb at its top."""
    limits = SourceLimits.of(settings)
    lowered = location.lower()
    if lowered.startswith("oci://"):
        uri = ObjectUri.parse(location)
        if uri is None:
            raise NotebookFetchError(
                "noteBook must look like oci://bucket@namespace/prefix/ (a folder) or "
                "oci://bucket@namespace/path.zip (an archive)"
            )
        if objects is None:
            raise NotebookFetchError("noteBook oci:// URIs need Object Storage access.")
        bucket, namespace, path = uri.bucket, uri.namespace, uri.path
        if is_archive(location):
            data = _read_capped_object(objects, namespace, bucket, path, limits, deadline)
            files = _unpack(data, path, limits)
            name = folder_name(path.rsplit("/", 1)[-1])
        else:
            files = _fetch_folder(objects, namespace, bucket, path, limits, deadline)
            name = folder_name(path.rstrip("/").rsplit("/", 1)[-1] or bucket)
    elif lowered.startswith(("https://", "http://")):
        budget = Deadline.after(settings.fetch_connect_timeout + settings.fetch_read_timeout)
        if deadline.at < budget.at:
            budget = deadline
        data = fetch_url(location, settings, budget, max_bytes=limits.max_bytes)
        last = urlsplit(location).path.rsplit("/", 1)[-1]
        files = _unpack(data, last, limits)
        name = folder_name(last)
    else:
        local = Path(location).expanduser()
        if is_archive(location):
            data = _read_local_archive(local, limits)
            files = _unpack(data, local.name, limits)
        else:
            files = _read_local_folder(local, limits)
        name = folder_name(local.resolve().name)
    if not files:
        raise NotebookFetchError(f"noteBook folder or archive {location!r} holds no files.")
    chosen = _choose_notebook(files, notebook)
    if len(files[chosen]) > settings.notebook_max_bytes:
        raise NotebookFetchError(
            f"noteBook {chosen!r} is {len(files[chosen])} bytes; NL_NOTEBOOK_MAX_BYTES is "
            f"{settings.notebook_max_bytes}."
        )
    shipped = tuple(SourceFile(p, files[p]) for p in sorted(files))
    logger.debug("fetched source", extra={"files": len(shipped)})
    return NotebookSource(name=name, notebook=chosen, files=shipped, location=location)


def _choose_notebook(files: dict[str, bytes], notebook: str | None) -> str:
    if notebook is not None:
        if notebook not in files:
            raise InvalidRequestError(
                f"notebookPath {notebook!r} is not a file of the folder or archive.",
                details=[_problem("notebookPath", "no such file in the folder or archive")],
            )
        return notebook
    top = sorted(p for p in files if "/" not in p and p.endswith(".ipynb"))
    if len(top) == 1:
        return top[0]
    if not top:
        found = sorted(p for p in files if p.endswith(".ipynb"))[:5]
        where = f" (found {', '.join(found)})" if found else ""
        raise InvalidRequestError(
            f"The folder or archive has no .ipynb at its top{where}; give notebookPath.",
            details=[_problem("notebookPath", "required: no .ipynb at the folder's top")],
        )
    raise InvalidRequestError(
        f"The folder or archive has {len(top)} notebooks at its top ({', '.join(top[:5])}); "
        "give notebookPath.",
        details=[_problem("notebookPath", "required: several .ipynb at the folder's top")],
    )


def _problem(field: str, message: str) -> FieldProblem:
    return FieldProblem(field, message)


# -- Object Storage folders -------------------------------------------------------------------


def _fetch_folder(
    objects: FolderLister,
    namespace: str,
    bucket: str,
    prefix: str,
    limits: SourceLimits,
    deadline: Deadline,
) -> dict[str, bytes]:
    budget = _Budget(limits, f"folder oci://{bucket}@{namespace}/{prefix}")
    # Folder markers (names ending in /, as the Console makes them) are not files.
    listed = [
        (name, size)
        for name, size in objects.list_objects(
            namespace, bucket, prefix, limits.max_files, deadline
        )
        if not name.endswith("/")
    ]
    for name, size in listed:
        budget.add(name[len(prefix) :], size)  # every size is checked before any read
    files: dict[str, bytes] = {}
    for name, size in listed:
        relative = name[len(prefix) :]
        if deadline.remaining() < 1.0:
            raise budget.refuse(
                f"no time left to fetch {shown_name(relative)} before the function's deadline "
                f"({len(files)} of {len(listed)} files fetched)."
            )
        content = objects.read_object(
            namespace, bucket, name, min(limits.max_file_bytes, size), deadline
        )
        files[relative] = content
    return files


def _read_capped_object(
    objects: ObjectReader,
    namespace: str,
    bucket: str,
    name: str,
    limits: SourceLimits,
    deadline: Deadline,
) -> bytes:
    try:
        return objects.read_object(namespace, bucket, name, limits.max_bytes, deadline)
    except NotebookFetchError as exc:
        if "limit" in exc.message:
            raise NotebookFetchError(
                f"noteBook archive {shown_name(name)} is larger than NL_SOURCE_MAX_BYTES "
                f"({limits.max_bytes} bytes)."
            ) from None
        raise


# -- archives -------------------------------------------------------------------------------


def _unpack(data: bytes, archive_name: str, limits: SourceLimits) -> dict[str, bytes]:
    """The files of a .zip or .tar.gz, every entry checked before any is unpacked."""
    lowered = archive_name.lower()
    try:
        if lowered.endswith(".zip"):
            return _unzip(data, archive_name, limits)
        return _untar(data, archive_name, limits)
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError) as exc:
        raise NotebookFetchError(
            f"noteBook archive {archive_name!r} cannot be unpacked ({type(exc).__name__})."
        ) from None


def _resolve_links(
    budget: _Budget, regular: dict[str, int], links: dict[str, str]
) -> dict[str, str]:
    """Each link's final regular file, or a refusal naming the link."""
    resolved: dict[str, str] = {}
    for name, target in links.items():
        current, hops = name, 0
        while True:
            pointed = link_target(current, links[current]) if current in links else None
            if pointed is None:
                raise budget.refuse(
                    f"{shown_name(name)} is a link leaving the folder (to {shown_name(target)})."
                )
            if pointed in regular:
                resolved[name] = pointed
                break
            if pointed not in links or hops >= MAX_LINK_HOPS:
                raise budget.refuse(
                    f"{shown_name(name)} is a link to {shown_name(target)}, "
                    "which is not a file of the archive."
                )
            current, hops = pointed, hops + 1
        budget.add(name, regular[resolved[name]])
    return resolved


def _entry_name(raw: str, is_dir: bool) -> str | None:
    """An archive entry's path as shipped: `./` in front (as `tar -C folder .` writes it)
    dropped, a folder with a trailing `/`; None for the top folder itself."""
    name = raw
    while name.startswith("./"):
        name = name[2:]
    if name in ("", "."):
        return None
    if is_dir and not name.endswith("/"):
        name += "/"
    return name


class _Entries:
    """An archive's entries by shipped name: regular files (with their sizes) and links."""

    def __init__(self, budget: _Budget) -> None:
        self.budget = budget
        self.seen: set[str] = set()
        self.regular: dict[str, int] = {}
        self.links: dict[str, str] = {}

    def name(self, raw: str, is_dir: bool = False) -> str | None:
        name = _entry_name(raw, is_dir)
        if name is None:
            return None
        self.budget.check_path(name)
        if name in self.seen:
            raise self.budget.refuse(f"{shown_name(name)} appears twice.")
        self.seen.add(name)
        return name


def _unzip(data: bytes, archive_name: str, limits: SourceLimits) -> dict[str, bytes]:
    budget = _Budget(limits, f"archive {archive_name!r}")
    entries = _Entries(budget)
    members: dict[str, zipfile.ZipInfo] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            mode = member.external_attr >> 16
            name = entries.name(member.filename, member.is_dir())
            if name is None or member.is_dir():
                continue
            kind = stat.S_IFMT(mode)  # 0: no Unix mode recorded (a plain file)
            if kind == stat.S_IFLNK:
                if member.file_size > MAX_LINK_TARGET_BYTES:
                    raise budget.refuse(f"{shown_name(name)} is a link with a too long target.")
                entries.links[name] = archive.read(member).decode("utf-8", "replace")
            elif kind not in (0, stat.S_IFREG):
                raise budget.refuse(
                    f"{shown_name(name)} is not a file, a folder or a link; refused."
                )
            else:
                budget.add(name, member.file_size)  # declared sizes, before any is read
                entries.regular[name] = member.file_size
                members[name] = member
        resolved = _resolve_links(budget, entries.regular, entries.links)
        files: dict[str, bytes] = {}
        for name, member in members.items():
            with archive.open(member) as entry:
                content = entry.read(member.file_size + 1)  # never past the declared size
            if len(content) != member.file_size:
                raise budget.refuse(f"{shown_name(name)} does not hold the size it declares.")
            files[name] = content
    files.update({name: files[target] for name, target in resolved.items()})
    return files


def _gunzip(data: bytes, cap: int, budget: _Budget) -> bytes:
    """Decompress a gzip stream, refusing one that grows beyond cap (a gzip bomb)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    pending = data
    while pending:
        out += inflater.decompress(pending, cap + 1 - len(out))
        if len(out) > cap:
            raise budget.refuse(
                f"it unpacks to more than NL_SOURCE_MAX_BYTES ({budget.limits.max_bytes} bytes)."
            )
        pending = inflater.unconsumed_tail
        if inflater.eof:
            break
    if not inflater.eof:
        raise budget.refuse("the gzip stream is truncated.")
    return bytes(out)


def _untar(data: bytes, archive_name: str, limits: SourceLimits) -> dict[str, bytes]:
    budget = _Budget(limits, f"archive {archive_name!r}")
    entries = _Entries(budget)
    cap = limits.max_bytes + TAR_OVERHEAD_PER_MEMBER * (limits.max_files + 1) + TAR_OVERHEAD
    raw = _gunzip(data, cap, budget)
    members: dict[str, tarfile.TarInfo] = {}
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
        for member in archive.getmembers():
            name = entries.name(member.name, member.isdir())
            if name is None or member.isdir():
                continue
            if member.issym():
                entries.links[name] = member.linkname
            elif member.islnk():
                # A hard link names another entry by its path in the archive.
                target = _entry_name(member.linkname, False)
                if target is None or member_problem(target):
                    raise budget.refuse(f"{shown_name(name)} is a link leaving the folder.")
                entries.links[name] = posixpath.relpath(target, posixpath.dirname(name) or ".")
            elif member.isreg():
                budget.add(name, member.size)
                entries.regular[name] = member.size
                members[name] = member
            else:
                raise budget.refuse(
                    f"{shown_name(name)} is not a file, a folder or a link; refused."
                )
        resolved = _resolve_links(budget, entries.regular, entries.links)
        files: dict[str, bytes] = {}
        for name, member in members.items():
            extracted = archive.extractfile(member)
            assert extracted is not None
            files[name] = extracted.read(member.size)
    files.update({name: files[target] for name, target in resolved.items()})
    return files


# -- local paths (NL_ALLOW_LOCAL_NOTEBOOKS) ----------------------------------------------------


def _read_local_archive(path: Path, limits: SourceLimits) -> bytes:
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise NotebookFetchError("noteBook local archive is not a regular file.")
        if size > limits.max_bytes:
            raise NotebookFetchError(
                f"noteBook archive {path.name!r} is {size} bytes; NL_SOURCE_MAX_BYTES is "
                f"{limits.max_bytes}."
            )
        return path.read_bytes()
    except OSError as exc:
        raise NotebookFetchError(
            f"noteBook local archive cannot be read: {exc.strerror}."
        ) from None


def _read_local_folder(root: Path, limits: SourceLimits) -> dict[str, bytes]:
    budget = _Budget(limits, f"folder {root.name!r}")
    regular: dict[str, int] = {}
    links: dict[str, str] = {}
    try:
        top = root.resolve(strict=True)
        entries: Iterable[Path] = sorted(top.rglob("*"))
        for entry in entries:
            relative = entry.relative_to(top).as_posix()
            info = entry.lstat()
            if stat.S_ISLNK(info.st_mode):
                budget.check_path(relative)
                links[relative] = os.readlink(entry)
            elif stat.S_ISDIR(info.st_mode):
                budget.check_path(relative + "/")
            elif stat.S_ISREG(info.st_mode):
                budget.add(relative, info.st_size)
                regular[relative] = info.st_size
            else:
                raise budget.refuse(
                    f"{shown_name(relative)} is not a file, a folder or a link; refused."
                )
        resolved = _resolve_links(budget, regular, links)
        files = {name: (top / name).read_bytes() for name in regular}
    except OSError as exc:
        raise NotebookFetchError(f"noteBook local folder cannot be read: {exc.strerror}.") from None
    files.update({name: files[target] for name, target in resolved.items()})
    return files
