"""Find the files to index: walk folders, honour ignore files, and count what is skipped and why."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from assistant.index.readers import Reader, reader_for

IGNORE_FILES = (".gitignore", ".ignore", ".assistantignore")


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    readers: dict[Path, Reader] = field(default_factory=dict)  # the reader chosen for each file
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    skipped_formats: Counter = field(default_factory=Counter)  # format (or '.ext' when unsupported) -> count
    skipped_paths: list[tuple[Path, str]] = field(default_factory=list)

    def skip(self, path: Path, reason: str, fmt: str | None = None) -> None:
        self.skipped[reason] += 1
        if fmt:
            self.skipped_formats[fmt] += 1
        self.skipped_paths.append((path, reason))


def file_format(path: Path, include_code: bool = False) -> str | None:
    """The format name for ``path`` by its extension alone (no file access), or None."""
    reader = reader_for(path, include_code, sniff=False)
    return reader.name if reader else None


def unsupported_label(path: Path) -> str:
    return path.suffix.lower() or "(no extension)"


def _load_ignore(folder: Path):
    import pathspec

    lines: list[str] = []
    for name in IGNORE_FILES:
        try:
            lines += (folder / name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def discover(paths: list[Path], *, max_bytes: int, include_code: bool = False) -> Discovery:
    """Walk ``paths``; skip hidden entries, symlink loops, ignored, unsupported, oversized files.

    A streamed format (mbox) has no file size limit: its reader limits each message instead.
    """
    found = Discovery()
    seen_files: set[tuple[int, int]] = set()  # (device, inode): a file reached twice (symlink, hard link) counts once

    def consider(path: Path) -> None:
        reader = reader_for(path, include_code)
        if reader is None:
            found.skip(path, "unsupported type", unsupported_label(path))
            return
        try:
            st = path.stat()
        except OSError:
            found.skip(path, "unreadable", reader.name)
            return
        if st.st_size > max_bytes and not reader.streamed:
            found.skip(path, "too large", reader.name)
            return
        # The inode from this stat, not path.resolve(): resolving lstats every folder above every file
        # and was half of a no-change re-index of 50,000 files.
        if (st.st_dev, st.st_ino) not in seen_files:
            seen_files.add((st.st_dev, st.st_ino))
            found.files.append(path.absolute())
            found.readers[path.absolute()] = reader

    for root in paths:
        if root.is_file():
            consider(root)
        else:
            _walk(root, found, consider)
    return found


def _walk(root: Path, found: Discovery, consider) -> None:
    visited: set[tuple[int, int]] = set()
    # (folder, [(base folder, spec)]): ignore files apply below the folder that holds them
    stack: list[tuple[Path, list]] = [(root, [])]
    while stack:
        folder, specs = stack.pop()
        try:
            st = folder.stat()
        except OSError:
            found.skip(folder, "unreadable")
            continue
        if (st.st_dev, st.st_ino) in visited:
            found.skip(folder, "symlink loop")
            continue
        visited.add((st.st_dev, st.st_ino))
        spec = _load_ignore(folder)
        specs = specs + [(folder, spec)] if spec else specs
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            found.skip(folder, "unreadable")
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                found.skip(path, "hidden")
                continue
            is_dir = entry.is_dir()
            if _ignored(path, is_dir, specs):
                found.skip(path, "ignored")
                continue
            if is_dir:
                stack.append((path, specs))
            elif entry.is_file():
                consider(path)


def _ignored(path: Path, is_dir: bool, specs: list) -> bool:
    for base, spec in specs:
        rel = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(rel):
            return True
    return False
