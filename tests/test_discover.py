"""Which files of the vault are sources: suffixes, hidden folders, .rereadignore, symlinks (never outside, no hang)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from ingest.discover import discover
from tests.conftest import write_vault

TEXT = "# Note\n\nSome text.\n"


def sources(root: Path, **kwargs) -> list[str]:
    return [f.source for f in discover(root, **kwargs)]


def finishes(fn, seconds: float = 5.0):
    """Run fn in a thread; fail (instead of hanging the suite) if it is still running after `seconds`."""
    out: dict = {}

    def run():
        out["value"] = fn()

    t = threading.Thread(target=run, daemon=True)
    start = time.monotonic()
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds}s"
    assert time.monotonic() - start < seconds
    return out["value"]


@pytest.fixture
def vault(tmp_path) -> Path:
    """A small vault; tests add hidden folders, ignore files and links to it."""
    return write_vault(tmp_path / "vault", {"a.md": TEXT, "notes/b.md": TEXT, "books/c.pdf": b"%PDF-1.4\n"})


def link(path: Path, target: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(target, path)
    except (OSError, NotImplementedError) as e:  # e.g. Windows without the privilege
        pytest.skip(f"symlinks unavailable: {e}")


# --- what counts as a source ------------------------------------------------------------------------------------


def test_only_note_and_pdf_suffixes_are_sources(vault):
    """.md, .markdown, .txt and .pdf (any case) are sources; images and other files are not."""
    write_vault(vault, {"n.markdown": TEXT, "t.txt": TEXT, "UP.MD": TEXT, "B.PDF": b"%PDF", "img.png": b"\x89PNG",
                        "data.json": "{}", "noext": TEXT})
    assert sources(vault) == ["B.PDF", "UP.MD", "a.md", "books/c.pdf", "n.markdown", "notes/b.md", "t.txt"]


def test_sources_are_relative_posix_paths_sorted_with_size_and_mtime(vault):
    """Source ids are stable: relative to the vault root, '/' separators; size and mtime feed the manifest."""
    found = discover(vault)
    assert [f.source for f in found] == ["a.md", "books/c.pdf", "notes/b.md"]
    b = found[-1]
    assert b.path == vault.resolve() / "notes" / "b.md"
    assert b.size == len(TEXT) and b.mtime_ns == (vault / "notes" / "b.md").stat().st_mtime_ns


def test_an_empty_vault_has_no_sources(tmp_path):
    """Nothing to index is not an error."""
    (tmp_path / "empty").mkdir()
    assert sources(tmp_path / "empty") == []


def test_a_vault_root_given_through_a_symlink_works(vault, tmp_path):
    """REREAD_NOTES_DIR may itself be a link; sources stay relative to the vault."""
    link(tmp_path / "vault-link", vault)
    assert sources(tmp_path / "vault-link") == ["a.md", "books/c.pdf", "notes/b.md"]


# --- hidden folders ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", [".obsidian", ".trash", ".git", ".hidden", "notes/.sync"])
def test_hidden_folders_are_never_indexed(vault, folder):
    """Obsidian's config, its trash, git internals and any dot-folder at any depth are not notes."""
    write_vault(vault, {f"{folder}/secret.md": TEXT, f"{folder}/deeper/x.md": TEXT})
    assert sources(vault) == ["a.md", "books/c.pdf", "notes/b.md"]


def test_hidden_files_are_never_indexed(vault):
    """Dot-files (editor swap copies, .DS_Store-like notes) are not notes."""
    write_vault(vault, {".draft.md": TEXT, "notes/.scratch.md": TEXT})
    assert sources(vault) == ["a.md", "books/c.pdf", "notes/b.md"]


def test_excluded_directories_are_skipped(vault):
    """The index directory inside the vault is never indexed (passed as exclude)."""
    write_vault(vault, {"index/chunks.txt": TEXT, "index/sub/x.md": TEXT})
    assert sources(vault, exclude=[vault / "index"]) == ["a.md", "books/c.pdf", "notes/b.md"]


# --- .rereadignore ----------------------------------------------------------------------------------------------


def test_rereadignore_dir_pattern_skips_that_folder_at_any_depth(vault):
    """'drafts/' ignores every folder named drafts, like .gitignore."""
    write_vault(vault, {".rereadignore": "drafts/\n", "drafts/d.md": TEXT, "notes/drafts/e.md": TEXT})
    assert sources(vault) == ["a.md", "books/c.pdf", "notes/b.md"]


def test_rereadignore_dir_pattern_does_not_match_a_file(vault):
    """'name/' is for folders only: a file with that name is still indexed."""
    write_vault(vault, {".rereadignore": "b.md/\n"})
    assert sources(vault) == ["a.md", "books/c.pdf", "notes/b.md"]


def test_rereadignore_glob_pattern_matches_names_anywhere(vault):
    """'*.txt' and 'tmp-*' match file names at any depth."""
    write_vault(vault, {".rereadignore": "*.txt\ntmp-*\n", "x.txt": TEXT, "notes/y.txt": TEXT,
                        "notes/tmp-1.md": TEXT, "notes/keep.md": TEXT})
    assert sources(vault) == ["a.md", "books/c.pdf", "notes/b.md", "notes/keep.md"]


def test_rereadignore_path_patterns_are_relative_to_the_root(vault):
    """A pattern with a slash matches the path from the vault root: 'notes/b.md', 'books/*.pdf', 'a/b/'."""
    write_vault(vault, {".rereadignore": "notes/b.md\nbooks/*.pdf\nx/y/\n", "x/y/z.md": TEXT, "x/keep.md": TEXT,
                        "other/notes/b.md": TEXT})
    assert sources(vault) == ["a.md", "other/notes/b.md", "x/keep.md"]


def test_rereadignore_comments_and_blank_lines_are_ignored(vault):
    """'# comment' lines and blank lines are not patterns (a '#' pattern would otherwise match nothing or all)."""
    write_vault(vault, {".rereadignore": "# private stuff\n\n   \nprivate/\n", "private/p.md": TEXT})
    assert sources(vault) == ["a.md", "books/c.pdf", "notes/b.md"]


def test_rereadignore_in_crlf_works(vault):
    """A .rereadignore saved on Windows still matches (no '\\r' glued to the pattern)."""
    write_vault(vault, {".rereadignore": "private/\r\n*.txt\r\n", "private/p.md": TEXT, "t.txt": TEXT})
    assert sources(vault) == ["a.md", "books/c.pdf", "notes/b.md"]


# --- symlinks ---------------------------------------------------------------------------------------------------


def test_symlinks_to_outside_the_vault_are_not_followed(vault, tmp_path):
    """A link to a folder or file outside the vault must not pull in someone else's files."""
    outside = write_vault(tmp_path / "outside", {"secret.md": TEXT, "deep/secret2.md": TEXT})
    link(vault / "outlink", outside)
    link(vault / "notes" / "secret.md", outside / "secret.md")
    link(vault / "rel", Path("..") / "outside")  # relative link climbing out
    assert finishes(lambda: sources(vault)) == ["a.md", "books/c.pdf", "notes/b.md"]


def test_a_symlink_loop_to_an_ancestor_finishes_and_lists_each_file_once(vault):
    """notes/loop -> vault root must not recurse forever nor list files twice."""
    link(vault / "notes" / "loop", vault)
    link(vault / "notes" / "deeper" / "again", vault / "notes")
    assert finishes(lambda: sources(vault)) == ["a.md", "books/c.pdf", "notes/b.md"]


def test_mutual_and_self_symlink_loops_do_not_hang(vault):
    """la -> lb -> la and self -> self cannot be resolved; they are skipped quickly."""
    link(vault / "la", vault / "lb")
    link(vault / "lb", vault / "la")
    link(vault / "self.md", vault / "self.md")
    assert finishes(lambda: sources(vault)) == ["a.md", "books/c.pdf", "notes/b.md"]


def test_dangling_symlink_is_skipped(vault):
    """A link whose target is gone is not a source and not an error."""
    link(vault / "gone.md", vault / "nowhere.md")
    assert sources(vault) == ["a.md", "books/c.pdf", "notes/b.md"]


def test_symlink_inside_the_vault_does_not_duplicate_files(vault):
    """A link to a folder or note inside the vault lists each file once (one chunk set, not two)."""
    link(vault / "zz-notes-link", vault / "notes")
    link(vault / "zz-b-link.md", vault / "notes" / "b.md")
    assert sources(vault) == ["a.md", "books/c.pdf", "notes/b.md"]


@pytest.mark.parametrize("target", [".obsidian", "drafts"])
def test_a_symlink_into_a_hidden_or_ignored_folder_does_not_index_it(vault, target):
    """.obsidian/ and ignored folders stay out even when an in-vault link points at them."""
    write_vault(vault, {".rereadignore": "drafts/\n", f"{target}/x.md": TEXT})
    link(vault / "visible", vault / target)
    assert sources(vault) == ["a.md", "books/c.pdf", "notes/b.md"]


def test_a_deep_tree_is_walked_quickly(tmp_path):
    """A vault with hundreds of files and nested folders is listed well under a second or two."""
    files = {f"d{i}/e{j}/n{k}.md": "x" for i in range(5) for j in range(10) for k in range(10)}
    root = write_vault(tmp_path / "big", files)
    found = finishes(lambda: sources(root), seconds=10)
    assert len(found) == 500
