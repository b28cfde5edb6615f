"""The files a data folder offers: regular files (and dataset folders) directly inside it, and
nothing that leads out.

One rule for every kind of file the app opens from a data folder: a symbolic link is offered only
when it points to a file inside the same folder; one that leads elsewhere is neither listed nor
opened (it could expose any file the server can read).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def files_inside(folder: Path, suffixes: tuple[str, ...]) -> Iterator[Path]:
    """The files directly in `folder` whose names end in one of `suffixes` (not hidden ones)."""
    root, entries = visible_entries(folder)
    for entry in entries:
        if entry.name.lower().endswith(suffixes) and is_inside(root, entry):
            yield entry


def folders_inside(folder: Path, marker: str) -> Iterator[Path]:
    """The folders directly in `folder` (not hidden, not leading out) that hold a `marker` file."""
    root, entries = visible_entries(folder)
    for entry in entries:
        try:
            path = entry.resolve(strict=True)
        except (OSError, RuntimeError):  # a broken or looping link
            continue
        if path.parent == root and path.is_dir() and is_inside(path, path / marker):
            yield entry


def visible_entries(folder: Path) -> tuple[Path, list[Path]]:
    """A folder once links are followed, and its entries that are not hidden, sorted by name
    (none when it cannot be read)."""
    try:
        root = folder.resolve(strict=True)
        entries = sorted(root.iterdir()) if root.is_dir() else []
    except OSError:
        return folder, []
    return root, [entry for entry in entries if not entry.name.startswith(".")]


def is_inside(root: Path, entry: Path) -> bool:
    """Whether `entry` is a regular file directly in `root`, once links are followed."""
    try:
        path = entry.resolve(strict=True)
    except (OSError, RuntimeError):  # a broken or looping link
        return False
    return path.parent == root and path.is_file()
