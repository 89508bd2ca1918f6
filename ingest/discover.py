"""Which files of the vault are sources: hidden folders, the index and .rereadignore left out."""

from __future__ import annotations

import errno
import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

from .sources import NOTE_SUFFIXES, PDF_SUFFIXES

IGNORE_FILE = ".rereadignore"


@dataclass(frozen=True)
class SourceFile:
    where: str  # the file's path as found; a Path is made only for a file that is read (18,000 cost 0.1 s)
    source: str  # relative to the vault root, POSIX separators
    size: int
    mtime_ns: int

    @property
    def path(self) -> Path:
        return Path(self.where)


def _patterns(root: Path) -> list[str]:
    try:
        lines = (root / IGNORE_FILE).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def _ignored(rel: str, is_dir: bool, patterns: list[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    for pat in patterns:
        dir_only = pat.endswith("/")
        p = pat.strip("/")
        if dir_only and not is_dir:
            continue
        if "/" in p:
            if fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(rel, p + "/*"):
                return True
        elif fnmatch.fnmatchcase(name, p):
            return True
    return False


LOOP = "a symlink loop ({why}); skipped"
OUTSIDE = "a symlink to {target}, outside the vault; not followed (reread reads only inside the vault)"


def discover(root: Path, exclude: list[Path] | None = None,
             warnings: list[dict[str, str]] | None = None) -> list[SourceFile]:
    """Walk the vault; symlinks are followed only within it, and each directory is entered once. A symlink loop
    or a link out of the vault is skipped and named in warnings ({"source", "warning"}, as an index report has
    them) so a note that is not indexed is never a mystery."""
    root = root.resolve()
    warned = warnings if warnings is not None else []

    def warn(rel: str, text: str) -> None:
        warned.append({"source": rel, "warning": text})

    excluded = {str(p.resolve()) for p in exclude or []}  # compared as strings: a plain file gets no Path
    patterns = _patterns(root)
    suffixes = NOTE_SUFFIXES | PDF_SUFFIXES
    found: dict[str, SourceFile] = {}
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()

    def inside(real: Path) -> bool:
        return real == root or root in real.parents

    def walk(directory: Path, rel_dir: str, above: frozenset[Path]) -> None:
        """above: the real folders on the way here; a link back to one of them (or to a folder this one is in)
        is a loop."""
        try:
            st = directory.stat()
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
            here = directory.resolve()
        except (OSError, RuntimeError):
            return
        above = above | {here}
        if (st.st_dev, st.st_ino) in seen_dirs:
            return
        seen_dirs.add((st.st_dev, st.st_ino))
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = f"{rel_dir}{entry.name}"
            try:
                is_dir = entry.is_dir()
                if _ignored(rel, is_dir, patterns):
                    continue
                link = entry.is_symlink()
                if not is_dir and not link:  # a plain file, most of a vault: no pathlib (18,000 notes: 0.3 -> 0.1 s)
                    if os.path.splitext(entry.name)[1].lower() in suffixes and entry.path not in excluded:
                        _add(entry.path, rel, entry)
                    continue
                path = Path(entry.path)
                if link:
                    real = path.resolve(strict=True)
                    if not inside(real):
                        if is_dir or path.suffix.lower() in suffixes:
                            warn(rel + ("/" if is_dir else ""), OUTSIDE.format(target=real))
                        continue
                    if is_dir and (real in above or real in here.parents):
                        target = real.relative_to(root).as_posix()
                        warn(rel + "/", LOOP.format(why="it points back to " + (
                            "the vault root" if target == "." else target + "/") + ", a folder it is inside"))
                        continue
                    parts = real.relative_to(root).parts  # the target must pass the same rules as a real path
                    if any(p.startswith(".") for p in parts) or any(
                            _ignored("/".join(parts[:i + 1]), i < len(parts) - 1 or is_dir, patterns)
                            for i in range(len(parts))):
                        continue
                else:
                    real = path
            except RuntimeError:  # Python 3.11-3.12: a link that resolves to itself (a -> b -> a, self -> self)
                warn(rel, LOOP.format(why="it never resolves to a file or folder"))
                continue
            except OSError as e:  # a dangling link is no source; ELOOP is the same loop on Python 3.13+
                if e.errno == errno.ELOOP:
                    warn(rel, LOOP.format(why="it never resolves to a file or folder"))
                continue
            if str(real) in excluded:
                continue
            if is_dir:
                walk(path, rel + "/", above)
            elif path.suffix.lower() in suffixes:
                _add(entry.path, rel, entry)

    def _add(path: str, rel: str, entry: os.DirEntry) -> None:
        """A file once, however many links lead to it."""
        try:
            if not entry.is_file():
                return
            st = entry.stat()
        except OSError:
            return
        if (st.st_dev, st.st_ino) in seen_files:
            return
        seen_files.add((st.st_dev, st.st_ino))
        found[rel] = SourceFile(path, rel, st.st_size, st.st_mtime_ns)

    walk(root, "", frozenset())
    return [found[k] for k in sorted(found)]
