"""What is wrong with an input file, said in one line in the user's words.

uproot reports problems as it meets them (a short read, a garbled basket header, a page that does
not decompress); these functions turn them into what the user can act on: the file is truncated,
damaged, not a ROOT file at all, or unreachable. No library's message is passed on.
"""

from __future__ import annotations

import lzma
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import uproot

from converters.errors import InputFileError

if TYPE_CHECKING:
    from converters.storage import EventStore

ROOT_MAGIC = b"root"
DOWNLOAD_AGAIN = "download it again"
# The first bytes of formats people mistake for ROOT files.
OTHER_FORMATS = (
    (b"PAR1", "a parquet file (open it in the histogram lab)"),
    (b"\x89HDF", "an HDF5 file"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file"),
    (b"\xfd7zXZ", "an xz-compressed file"),
    (b"<", "an HTML or XML page (a download link that returned a web page?)"),
    (b"{", "a JSON file (event-display JSON opens in the display)"),
    (b"[", "a JSON file"),
)


def human_size(size: int) -> str:
    """A byte count as people write it: '800 kB', '1.64 MB', '50 bytes'."""
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.0f} kB"
    if size < 1_000_000_000:
        return f"{size / 1e6:.2f} MB"
    return f"{size / 1e9:.2f} GB"


def truncated(actual: int, expected: int) -> str:
    """The truncation message (in bytes where the sizes would read the same rounded)."""
    shown, said = human_size(actual), human_size(expected)
    if shown == said:
        shown, said = f"{actual:,} bytes", f"{expected:,} bytes"
    return (
        f"the file ends after {shown} but its header says {said}: it is truncated; {DOWNLOAD_AGAIN}"
    )


def not_root_reason(path: str) -> str | None:
    """Why a local file is not a ROOT file at all (judged by its first bytes), or None."""
    with open(path, "rb") as handle:
        head = handle.read(64)
    if not head:
        return "the file is empty"
    if head.startswith(ROOT_MAGIC):
        return None
    for magic, what in OTHER_FORMATS:
        if head.lstrip().startswith(magic):
            return f"not a ROOT file: it is {what}"
    if all(32 <= byte < 127 or byte in b"\t\r\n" for byte in head):
        return "not a ROOT file: it is a text file"
    return "not a ROOT file (no ROOT signature at its start)"


def size_problem(root_file: uproot.ReadOnlyFile) -> str | None:
    """The truncation message when the file is shorter than its header says, else None."""
    try:
        actual = int(root_file.source.num_bytes)
    except Exception:  # a server that does not say the size: nothing to compare
        return None
    expected = int(root_file.fEND)
    return truncated(actual, expected) if actual < expected else None


def local_size(source: str) -> int | None:
    """The size of a local file, None for URLs or when it cannot be known."""
    try:
        return Path(source).stat().st_size if "://" not in source else None
    except OSError:
        return None


def url_reason(error: Exception) -> str:
    """Why a URL could not be opened, without the HTTP library's wording."""
    text = str(error)
    if isinstance(error, FileNotFoundError) or "404" in text:
        return "the server has no file at that address (404)"
    if isinstance(error, PermissionError) or "403" in text or "401" in text:
        return "the server refuses access to it"
    if isinstance(error, TimeoutError) or "imeout" in text:
        return "the server did not answer in time"
    if "onnect" in text or "resolve" in text or "Name or service" in text:
        return "cannot connect to the server"
    return "the server did not send the file"


def describe_open_error(source: str, error: Exception, what: str | None = None) -> InputFileError:
    """An InputFileError for a file whose header or table of contents cannot be read."""
    remote = "://" in source and not source.startswith("file://")
    if remote and what is None and not isinstance(error, ValueError):
        return InputFileError(f"{source}: cannot open the URL: {url_reason(error)}")
    if isinstance(error, ValueError) and "magic" in str(error).lower():
        return InputFileError(
            f"{source}: not a ROOT file (it does not start with the ROOT signature)"
        )
    size = local_size(source)
    if size is not None and size < uproot.open.defaults["begin_chunk_size"]:
        return InputFileError(
            f"{source}: the file ends after {human_size(size)}, inside its header:"
            f" it is truncated; {DOWNLOAD_AGAIN}"
        )
    part = what or "its table of contents"
    if isinstance(error, NotImplementedError):
        return unsupported(source, part)
    return InputFileError(f"{source}: the file is damaged: {part} cannot be read; {DOWNLOAD_AGAIN}")


def unsupported(source: str, what: str) -> InputFileError:
    """An InputFileError for a valid file whose layout the installed uproot cannot read."""
    return InputFileError(
        f"{source}: {what} uses a storage feature that uproot {uproot.__version__} cannot read"
        " (a newer ROOT wrote it?); try a newer uproot: pip install -U uproot"
    )


def damage_kind(error: Exception) -> str:
    """What kind of damage a read error shows, in plain words."""
    if isinstance(error, zlib.error | lzma.LZMAError) or "ecompress" in type(error).__name__:
        return "its compressed data do not unpack"
    if "ecompress" in str(error) or "corrupt" in str(error).lower():
        return "its compressed data do not unpack"
    return "its data are garbled"


def describe_read_error(
    store: EventStore, name: str | None, start: int, stop: int, error: Exception
) -> InputFileError:
    """An InputFileError for data that cannot be read from an opened file."""
    if isinstance(error, NotImplementedError):
        return unsupported(store.source, f"the {store.layout} {store.name!r}")
    where = f"entries {start}-{stop - 1}" if stop - start > 1 else f"entry {start}"
    if store.layout == "RNTuple":
        what = (
            f"field {name} of the RNTuple {store.name!r}" if name else f"the RNTuple {store.name!r}"
        )
    else:
        what = f"branch {name}" if name else f"the tree {store.name!r}"
    return InputFileError(
        f"{store.source}: the file is damaged: {what} cannot be read for {where}"
        f" ({damage_kind(error)}); {DOWNLOAD_AGAIN}"
    )
