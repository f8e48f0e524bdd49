"""Receiving a file: the checks every import file passes before a single row is parsed.

Invariants:
- a file larger than ``IMPORT_MAX_BYTES`` is refused from its size on disk, before it is read;
- an empty file, an archive or office document under a text name (magic bytes), and bytes that
  are not UTF-8 (the error names the byte offset) are refused;
- errors name the file and the place (line, byte offset, column), never a value from the file.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .errors import ImportRejected, Problem

CHUNK = 1 << 20
DEFAULT_MAX_BYTES = 200 * 1024 * 1024

# Leading bytes of formats that are not text, whatever the file is called.
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (or an .xlsx/.docx document)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"PK\x07\x08", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document (.xls/.doc)"),
    (b"\x00\x00\x00", "binary data"),
)


def max_bytes() -> int:
    """The size limit of one import file (setting IMPORT_MAX_BYTES, default 200 MB)."""
    return int(getattr(settings, "IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES) or DEFAULT_MAX_BYTES)


@dataclass(frozen=True)
class ReceivedFile:
    """A file that passed the intake checks: its name, size and SHA-256."""

    path: Path
    name: str
    size: int
    sha256: str


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def receive(path: Path, *, name: str | None = None, text: bool = True) -> ReceivedFile:
    """Check size, emptiness, magic bytes and (for text) UTF-8 of ``path``; raise ImportRejected.

    The size is read from the file system first, so an oversized file is never read.
    """
    shown = name or path.name
    if not path.is_file():
        raise ImportRejected([Problem(shown, None, None, "not a regular file")])
    size = path.stat().st_size
    limit = max_bytes()
    if size > limit:
        raise ImportRejected(
            [Problem(shown, None, None, f"the file has {size} bytes, more than the limit {limit}")]
        )
    if size == 0:
        raise ImportRejected([Problem(shown, None, None, "the file is empty")])
    with path.open("rb") as handle:
        head = handle.read(8)
    for magic, what in MAGIC:
        if head.startswith(magic):
            raise ImportRejected(
                [Problem(shown, None, None, f"the file is {what}, not a text file")]
            )
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if text:
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as problem:
                    where = offset - pending + problem.start
                    raise ImportRejected(
                        [
                            Problem(
                                shown,
                                None,
                                None,
                                f"not UTF-8 text: invalid byte at byte offset {max(where, 0)}",
                            )
                        ]
                    ) from None
            offset += len(chunk)
        if text:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise ImportRejected(
                    [Problem(shown, None, None, f"not UTF-8 text: truncated at byte {offset}")]
                ) from None
    return ReceivedFile(path=path, name=shown, size=size, sha256=digest.hexdigest())


DELIMITERS = (",", "|", "~", ";", "\t")


def sniff_delimiter(first_line: str, allowed: tuple[str, ...]) -> str | None:
    """The allowed delimiter the header line uses most, or None when it uses none of them."""
    counts = {d: first_line.count(d) for d in allowed}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else None


def csv_rows(
    received: ReceivedFile, *, allowed_delimiters: tuple[str, ...] = (",",)
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and the data rows (line number, cells) of a CSV file that passed ``receive``.

    The delimiter must be one of ``allowed_delimiters``; a header that has a single column while
    it holds another usual delimiter is reported as a wrong delimiter. Blank lines are skipped.
    """
    with received.path.open(encoding="utf-8-sig", newline="") as handle:
        first = handle.readline().rstrip("\r\n")
    if not first.strip():
        raise ImportRejected([Problem(received.name, 1, None, "the header row is empty")])
    delimiter = sniff_delimiter(first, allowed_delimiters)
    if delimiter is None:
        other = sniff_delimiter(first, tuple(d for d in DELIMITERS if d not in allowed_delimiters))
        problem = "the header has a single column"
        if other is not None:
            shown = "TAB" if other == "\t" else repr(other)
            problem = (
                f"wrong delimiter: the header is separated by {shown}; "
                f"this format uses {' or '.join(repr(d) for d in allowed_delimiters)}"
            )
        raise ImportRejected([Problem(received.name, 1, None, problem)])
    with received.path.open(encoding="utf-8-sig", newline="") as handle:
        try:
            header = [h.strip() for h in next(csv.reader(handle, delimiter=delimiter, strict=True))]
        except csv.Error as problem:
            raise ImportRejected(
                [Problem(received.name, 1, None, f"malformed CSV header: {problem}")]
            ) from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        # The file is opened only when the rows are read, and closed when they end.
        with received.path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            next(reader)
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as problem:
                    raise ImportRejected(
                        [Problem(received.name, reader.line_num, None, f"malformed CSV: {problem}")]
                    ) from None
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                yield reader.line_num, row

    return header, rows()
