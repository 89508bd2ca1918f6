"""Faults around the index: a bad model setting, broken index files, a read-only folder, a full disk, an index
from another model or format. Each ends in one line that says what is wrong and what fixes it, with the
previous index intact and searchable, and a plain `reread index` that repairs what can be repaired.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.facade import Assistant
from ingest import manifest as mf
from ingest.errors import ConfigError, IndexDamaged, IndexMismatch
from ingest.indexer import Indexer
from ingest.settings import Settings, load_settings
from tests.conftest import write_vault

REREAD = str(Path(sys.executable).parent / "reread")
QUERY = "what is quantization"
NOTES = {
    "notes/glossary.md": "# Glossary\n\n## Quantization\n\nQuantization reduces the precision of model weights, "
                         "so a model needs less memory and runs faster.\n\n## Distillation\n\nA small student "
                         "model learns to imitate a large teacher model.\n",
    "notes/reading/herons.md": "---\ntags: [birds]\n---\n# Herons\n\nThe grey heron waits in the reeds at dawn "
                               "and strikes at fish with its long bill.\n",
    "notes/kitchen.md": "# Bread\n\nA sourdough loaf needs a lively starter, flour, water and salt, and a long "
                        "cold proof overnight.\n",
}


def run(settings: Settings, argv: list[str], **env: str) -> subprocess.CompletedProcess:
    """A fresh process on this test's vault and index, with nothing of the developer's settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_"))}
    base.update(HF_HUB_OFFLINE="1", REREAD_NOTES_DIR=str(settings.notes_dir),
                REREAD_INDEX_DIR=str(settings.index_dir), **env)
    return subprocess.run(argv, capture_output=True, text=True, env=base, cwd=settings.index_dir.parent, timeout=300)


def cli(settings: Settings, *args: str, prefix: tuple[str, ...] = (), **env: str) -> subprocess.CompletedProcess:
    """`reread ARGS`, optionally under a prefix (setpriv)."""
    return run(settings, [*prefix, REREAD, *args], **env)


def one_line_error(p: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 1, nothing on stdout, one line on stderr holding every word."""
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 1 and p.stdout == "" and "Traceback" not in p.stderr, (p.returncode, p.stderr)
    assert len(lines) == 1, p.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def tree(index_dir: Path) -> dict[str, str]:
    """Every file the index holds, with a hash of its bytes: equal before and after means nothing was touched."""
    return {str(p.relative_to(index_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(index_dir.rglob("*")) if p.is_file() and p.name != "writer.lock"}


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Three short notes: cheap to embed with the real encoder (the conftest vault costs ~5 s a test)."""
    vault = write_vault(tmp_path / "vault", NOTES)
    return Settings(notes_dir=vault, index_dir=tmp_path / "index", backend="extractive", lock_timeout=0)


@pytest.fixture
def built(settings, embedder) -> Assistant:
    """The small vault indexed with the real encoder."""
    app = Assistant(settings, embedder=embedder)
    app.index()
    assert app.search(QUERY, 3)
    return app


class Counting:
    """The real embedder, recording what it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.name, self.texts = inner, inner.name, []

    @property
    def encoder(self) -> str:
        return self.inner.encoder

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.texts += texts
        return self.inner.embed(texts)


def forget_open_stores() -> None:
    """What a new process would see: Chroma keeps each opened store per process (files already deleted too)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def sources(app: Assistant) -> list[str]:
    return [h.chunk.source for h in app.search(QUERY, 3)]


# --- 1. a bad REREAD_EMBED_MODEL fails before anything in the index is touched -----------------------------------

@pytest.mark.parametrize("model", ["all-MiniLM-L6-v3", "", "   ", "/no/such/model"],
                         ids=["typo", "empty", "blank", "path"])
def test_a_bad_model_setting_is_one_line(monkeypatch, model):
    monkeypatch.setenv("REREAD_EMBED_MODEL", model)
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert str(e.value).startswith("REREAD_EMBED_MODEL=") and ".env" in str(e.value) and "\n" not in str(e.value)


def test_the_bundled_model_and_a_model_folder_are_accepted(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "modules.json").write_text("[]")
    assert Settings(embed_model="sentence-transformers/all-MiniLM-L6-v2").embed_model.endswith("L6-v2")
    assert Settings(embed_model=f" {folder} ").embed_model == str(folder)


@pytest.mark.slow
@pytest.mark.parametrize(("model", "backend"),
                         [("all-MiniLM-L6-v3", "torch"), ("", "onnx"), ("/no/such/model", "torch")],
                         ids=["typo-torch", "empty-onnx", "path-torch"])
def test_reread_index_with_a_bad_model_keeps_the_old_index(built, settings, model, backend):
    before = tree(settings.index_dir)
    p = cli(settings, "index", "--json", REREAD_EMBED_MODEL=model, REREAD_EMBED_BACKEND=backend)
    one_line_error(p, "REREAD_EMBED_MODEL", ".env")
    assert tree(settings.index_dir) == before
    assert sources(built)


@pytest.mark.slow
def test_after_a_bad_model_reread_search_still_answers(built, settings):
    cli(settings, "index", REREAD_EMBED_MODEL="all-MiniLM-L6-v3", REREAD_EMBED_BACKEND="torch")
    p = cli(settings, "search", QUERY, "-k", "1", "--json")
    assert p.returncode == 0 and '"notes/glossary.md"' in p.stdout, p.stderr


def test_a_model_folder_that_cannot_load_fails_before_the_rebuild(built, settings, tmp_path):
    """A folder that looks like a model (config.json) but holds no tokenizer: every file used to fail and the
    empty rebuild replaced the index."""
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    before, hits = tree(settings.index_dir), sources(built)
    s = settings.model_copy(update={"embed_model": str(broken), "embed_backend": "torch"})
    with pytest.raises(ConfigError, match="REREAD_EMBED_MODEL=.*cannot be loaded.*index is unchanged"):
        Indexer(s).run()
    assert tree(settings.index_dir) == before and sources(built) == hits


class Unloadable:
    """A model whose weights are missing: the tokenizer is fine, the model fails as it loads."""

    name, encoder = "all-MiniLM-L6-v2", "torch"

    def check(self) -> None:
        raise OSError("Error no file named model.safetensors found in directory /models/mini")

    def embed(self, texts: list[str]) -> list[list[float]]:
        raise AssertionError("a rebuild embedded with a model that did not load")


def test_a_model_that_cannot_load_fails_before_the_rebuild(built, settings):
    before, hits = tree(settings.index_dir), sources(built)
    with pytest.raises(ConfigError, match="REREAD_EMBED_MODEL.*model.safetensors.*index is unchanged"):
        Indexer(settings, embedder=Unloadable()).run(full=True)
    assert tree(settings.index_dir) == before and sources(built) == hits


# --- 2. broken index files: a plain `reread index` repairs them; readers say what is wrong in one line ----------

MANIFESTS = {"truncated": None, "not-json": b"\x00\xffgarbage", "empty": b"", "a-list": b"[]", "no-keys": b"{}",
             "files-a-list": b'{"fingerprint": {}, "vault": "v", "collection": "c", "files": []}'}


def damage_manifest(index_dir: Path, how: str) -> None:
    path = index_dir / mf.MANIFEST
    data = MANIFESTS[how]
    path.write_bytes(path.read_bytes()[:300] if data is None else data)


@pytest.mark.parametrize("how", list(MANIFESTS))
def test_a_broken_manifest_is_one_line_for_readers_and_rebuilt_by_a_plain_index(built, settings, embedder, how):
    damage_manifest(settings.index_dir, how)
    reader = Assistant(settings, embedder=embedder)
    with pytest.raises(IndexDamaged) as e:
        reader.search(QUERY)
    message = str(e.value)
    assert "manifest.json" in message and "`reread index`" in message and "--full" not in message
    assert "\n" not in message

    report = Assistant(settings, embedder=embedder).index()
    assert [w["source"] for w in report.warnings] == [str(settings.index_dir.resolve() / mf.MANIFEST)]
    assert "rebuilt" in report.warnings[0]["warning"] and report.added == len(NOTES) and not report.failed
    app = Assistant(settings, embedder=embedder)
    assert sources(app)[0] == "notes/glossary.md"
    m = app.manifest()
    assert app.store.names() == [m.collection], "the unreadable manifest's collection was left behind"


def test_a_run_killed_midway_then_a_broken_manifest_leaves_no_dirty_marker_after_the_rebuild(built, settings,
                                                                                               embedder):
    """A kill leaves the dirty marker; a manifest then unreadable means a rebuild from nothing. The marker goes with
    it: left behind, the next run would "repair" a clean index (seen once in the kill -9 test's random runs)."""
    (settings.index_dir / mf.DIRTY).touch()
    damage_manifest(settings.index_dir, "truncated")
    report = Assistant(settings, embedder=embedder).index()
    assert report.added == len(NOTES) and not report.failed
    assert not (settings.index_dir / mf.DIRTY).exists() and not (settings.index_dir / mf.BUILDING).exists()
    again = Assistant(settings, embedder=embedder).index()
    assert (again.added, again.updated, again.unchanged) == (0, 0, len(NOTES))


def test_lost_vectors_are_rebuilt(built, settings, embedder):
    shutil.rmtree(settings.index_dir / "chroma")
    forget_open_stores()
    with pytest.raises(IndexMismatch, match="reread index`"):
        Assistant(settings, embedder=embedder).search(QUERY)
    report = Assistant(settings, embedder=embedder).index()
    assert report.warnings[0]["source"].endswith("chroma") and report.added == len(NOTES)
    assert sources(Assistant(settings, embedder=embedder))[0] == "notes/glossary.md"


def test_a_vector_store_that_is_not_a_database_is_rebuilt(built, settings, embedder):
    (settings.index_dir / "chroma" / "chroma.sqlite3").write_bytes(b"garbage" * 100)
    forget_open_stores()
    with pytest.raises(IndexDamaged, match="chroma cannot be opened.*`reread index`"):
        Assistant(settings, embedder=embedder).search(QUERY)
    report = Assistant(settings, embedder=embedder).index()
    assert "is unreadable" in report.warnings[0]["warning"] and report.added == len(NOTES)
    assert sources(Assistant(settings, embedder=embedder))[0] == "notes/glossary.md"


@pytest.mark.parametrize("how", ["missing", "garbage"])
def test_lost_texts_are_one_line_for_readers_and_rebuilt(built, settings, embedder, how):
    """The chunks' texts live beside the vectors (texts.sqlite3): lost or garbled, a reader names the file and the
    fix, and a plain `reread index` rebuilds."""
    path = settings.index_dir / "texts.sqlite3"
    if how == "missing":
        path.unlink()
    else:
        path.write_bytes(b"garbage" * 200)
    with pytest.raises(IndexDamaged) as e:
        Assistant(settings, embedder=embedder).search(QUERY)
    assert "texts.sqlite3" in str(e.value) and "`reread index`" in str(e.value) and "\n" not in str(e.value)
    forget_open_stores()
    report = Assistant(settings, embedder=embedder).index()
    assert "texts.sqlite3" in report.warnings[0]["warning"] and "rebuilt" in report.warnings[0]["warning"]
    assert report.added == len(NOTES) and not report.failed
    app = Assistant(settings, embedder=embedder)
    hit = app.search(QUERY, 1)[0]
    assert hit.chunk.source == "notes/glossary.md" and "Quantization reduces" in hit.chunk.text
    assert Assistant(settings, embedder=embedder).index().warnings == []


def test_a_store_chroma_cannot_read_after_a_kill_is_rebuilt(built, settings, embedder, monkeypatch):
    """A kill -9 while Chroma wrote its HNSW files once left a log it could not apply: every later run died in the
    repair with chromadb's InternalError and a traceback (the files looked whole to sqlite3). The store is
    derived data: the next run names it in a warning and rebuilds."""
    from chromadb.errors import InternalError

    from ingest.store import ChromaStore

    (settings.index_dir / mf.DIRTY).touch()  # the killed run's marker: the next run repairs first
    real, calls = ChromaStore.ids, []

    def unreadable(self, name):
        calls.append(name)
        if len(calls) == 1:
            raise InternalError("Error executing plan: Failed to apply logs to the hnsw segment writer")
        return real(self, name)

    monkeypatch.setattr(ChromaStore, "ids", unreadable)
    forget_open_stores()
    report = Assistant(settings, embedder=embedder).index()
    assert "could not be read (InternalError" in report.warnings[0]["warning"]
    assert "rebuilt" in report.warnings[0]["warning"] and "\n" not in report.warnings[0]["warning"]
    assert report.added == len(NOTES) and not report.failed and not (settings.index_dir / mf.DIRTY).exists()
    hit = Assistant(settings, embedder=embedder).search(QUERY, 1)[0]
    assert hit.chunk.source == "notes/glossary.md" and "Quantization reduces" in hit.chunk.text
    assert Assistant(settings, embedder=embedder).index().warnings == []


@pytest.mark.parametrize("how", ["garbage-meta", "garbage-bm25", "missing"])
def test_a_damaged_lexical_generation_is_written_again_from_the_vectors(built, settings, embedder, how):
    folder = settings.index_dir / "lexical" / built.manifest().lexical
    if how == "missing":
        shutil.rmtree(folder)
    else:
        target = folder / "meta.json" if how == "garbage-meta" else next((folder / "bm25").glob("*.json"))
        target.write_text("garbage")
    counting = Counting(embedder)
    report = Assistant(settings, embedder=counting).index()
    assert report.warnings == [{"source": str(folder), "warning": report.warnings[0]["warning"]}]
    assert "written again" in report.warnings[0]["warning"] and report.unchanged == len(NOTES)
    assert counting.texts == [], "a lexical repair re-embedded chunks"
    app = Assistant(settings, embedder=embedder)
    assert sources(app)[0] == "notes/glossary.md" and app.search("sourdough starter", 1)[0].lexical > 0
    assert Assistant(settings, embedder=embedder).index().warnings == []


def test_an_older_manifest_without_lexical_sizes_is_checked_once(built, settings, embedder):
    path = settings.index_dir / mf.MANIFEST
    m = mf.load(settings.index_dir)
    m.lexical_sizes = {}
    mf.save(settings.index_dir, m)
    (settings.index_dir / "lexical" / m.lexical / "meta.json").write_text("{")
    report = Assistant(settings, embedder=embedder).index()
    assert "is unreadable (JSONDecodeError" in report.warnings[0]["warning"]
    assert mf.load(settings.index_dir).lexical_sizes and path.exists()


@pytest.mark.slow
def test_story_a_truncated_manifest_from_the_command_line(built, settings):
    damage_manifest(settings.index_dir, "truncated")
    for args in (["search", QUERY], ["ask", QUERY], ["status", "--json"]):
        one_line_error(cli(settings, *args), "manifest.json", "`reread index`")
    p = cli(settings, "index", "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["warnings"][0]["source"].endswith("manifest.json") and report["added"] == len(NOTES)
    p = cli(settings, "search", QUERY, "-k", "1", "--json")
    assert p.returncode == 0 and '"notes/glossary.md"' in p.stdout, p.stderr


# --- 3. a read-only index folder: search and ask read it; `reread index` refuses in one line -------------------

UNPRIVILEGED = ("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner")


def permissions_that_hold() -> tuple[str, ...]:
    """A prefix under which `chmod a-w` stops the process: none for a user, setpriv dropping root's power to
    override file permissions for root (tests run as root in CI)."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None or subprocess.run([*UNPRIVILEGED, "true"]).returncode != 0:
        pytest.skip("running as root without setpriv: file permissions cannot be made to hold")
    return UNPRIVILEGED


def chmod_tree(root: Path, writable: bool) -> None:
    for p in [root, *root.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode | 0o200 if writable else mode & ~0o222)


@pytest.mark.slow
def test_a_read_only_index_is_searched_and_asked_and_not_written(built, settings, tmp_path):
    prefix = permissions_that_hold()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    before = tree(settings.index_dir)
    chmod_tree(settings.index_dir, writable=False)
    try:
        p = cli(settings, "search", QUERY, "-k", "1", "--json", prefix=prefix, TMPDIR=str(scratch))
        assert p.returncode == 0 and '"notes/glossary.md"' in p.stdout, p.stderr
        p = cli(settings, "ask", QUERY, "--json", prefix=prefix, TMPDIR=str(scratch))
        assert p.returncode == 0 and '"found": true' in p.stdout, p.stderr
        for args in (["index", "--json"], ["index", "--full"]):
            one_line_error(cli(settings, *args, prefix=prefix), "read-only", "REREAD_INDEX_DIR", "unchanged")
    finally:
        chmod_tree(settings.index_dir, writable=True)
    assert tree(settings.index_dir) == before
    assert list(scratch.glob("reread-*")) == [], "the reader's private copy of the vectors was left behind"


def test_a_store_that_cannot_be_written_is_read_from_a_private_copy(built, settings, embedder, monkeypatch):
    """In process, as root: the permission check at the store's boundary says no (the subprocess test above
    makes the kernel say it)."""
    import ingest.store as store_mod
    from ingest.lock import ReadOnlyIndex

    before = tree(settings.index_dir)
    monkeypatch.setattr(store_mod, "writable_store", lambda folder: False)
    forget_open_stores()
    reader = Assistant(settings, embedder=embedder)
    assert sources(reader)[0] == "notes/glossary.md"
    copy = reader.store._copy
    assert copy is not None and copy.is_dir() and settings.index_dir not in copy.parents
    with pytest.raises(ReadOnlyIndex):  # nothing is ever written to the copy: it would be lost
        reader.store.delete(reader.manifest().collection, ["x"])
    reader.store.reopen()
    assert not copy.exists()
    assert tree(settings.index_dir) == before


def test_reread_index_refuses_a_read_only_part_before_writing(built, settings, embedder, monkeypatch):
    import ingest.indexer as indexer_mod
    from ingest.lock import ReadOnlyIndex

    (settings.notes_dir / "notes" / "new.md").write_text("# New\n\nA new note about herons.\n")
    before = tree(settings.index_dir)
    chroma = settings.index_dir / "chroma"
    monkeypatch.setattr(indexer_mod, "read_only_part", lambda index_dir: chroma)
    with pytest.raises(ReadOnlyIndex, match=f"{chroma} cannot be written"):
        Assistant(settings, embedder=embedder).index()
    assert tree(settings.index_dir) == before


# --- 4. the disk fills up: one line saying so, the previous index intact, a later run repairs it --------------

DISK_FULL = "Database error: error returned from database: (code: 13) database or disk is full"


def more_notes(vault: Path, n: int) -> None:
    for i in range(n):
        (vault / "notes" / f"walk-{i:02d}.md").write_text(
            f"# Walk {i}\n\nAn otter crossed the weir on walk {i}, and a kingfisher waited on the alder.\n")


class FillingStore:
    """The real store, whose second write fails as SQLite does on a full disk (what Chroma passes on)."""

    def __init__(self, real):
        self.real, self.adds = real, 0

    def __getattr__(self, name):
        return getattr(self.real, name)

    def add(self, name, chunks, vectors):
        self.adds += 1
        if self.adds >= 2:
            from chromadb.errors import InternalError

            raise InternalError(DISK_FULL)
        self.real.add(name, chunks, vectors)


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "rebuild"])
def test_a_disk_full_midway_is_one_line_and_a_later_run_repairs(built, settings, embedder, monkeypatch, full):
    import ingest.indexer as indexer_mod
    from ingest.lock import DiskFull

    monkeypatch.setattr(indexer_mod, "BATCH_FILES", 1)  # one file per write: the disk fills after the first
    monkeypatch.setattr(indexer_mod, "EMBED_AHEAD", 1)
    more_notes(settings.notes_dir, 3)
    before = mf.load(settings.index_dir)
    with pytest.raises(DiskFull) as e:
        Assistant(settings, embedder=embedder, store=FillingStore(built.store)).index(full=full)
    message = str(e.value)
    assert "is full (Database error" in message and "previous index is intact" in message
    assert "`reread index` again" in message and "\n" not in message
    assert sources(Assistant(settings, embedder=embedder))[0] == "notes/glossary.md"
    if full:
        assert mf.load(settings.index_dir).collection == before.collection  # readers never left the old one

    report = Assistant(settings, embedder=embedder).index()
    assert not report.failed and report.chunks == mf.load(settings.index_dir).chunks
    app = Assistant(settings, embedder=embedder)
    m = app.manifest()
    assert "notes/walk-02.md" in m.files and app.store.ids(m.collection) == {i for e in m.files.values()
                                                                           for i in e.chunk_ids}
    assert app.store.names() == [m.collection]
    assert not (settings.index_dir / mf.DIRTY).exists() and not (settings.index_dir / mf.BUILDING).exists()


def test_a_disk_too_full_for_the_next_write_stops_before_it(built, settings, embedder, monkeypatch):
    import ingest.indexer as indexer_mod
    from ingest.lock import DiskFull

    monkeypatch.setattr(indexer_mod, "BYTES_PER_CHUNK", 1 << 50)
    more_notes(settings.notes_dir, 2)
    counting = Counting(embedder)
    with pytest.raises(DiskFull, match=r"is full \(\d+ KB free, 2 chunks to write need about .*intact and searchable"):
        Assistant(settings, embedder=counting).index()
    assert counting.texts == [], "embedded what could not be written"
    assert sources(Assistant(settings, embedder=embedder))[0] == "notes/glossary.md"
    monkeypatch.undo()
    assert Assistant(settings, embedder=embedder).index().added == 2


def test_a_reader_on_a_full_disk_says_so(built, settings, embedder, monkeypatch):
    """Chroma applies its write-ahead log as it reads: on a full disk a query fails with Chroma's words."""
    import ingest.lock as lock_mod
    from ingest.lock import DiskFull

    def fails(*args, **kwargs):
        raise RuntimeError("Error executing plan: Error sending backfill request to compactor: Failed to apply logs")

    app = Assistant(settings, embedder=embedder)
    monkeypatch.setattr(type(app.store), "query", lock_mod.guard_disk(writing=False)(fails))
    monkeypatch.setattr(type(app.store), "nearest_ids", lock_mod.guard_disk(writing=False)(fails))
    monkeypatch.setattr(lock_mod, "NEARLY_FULL", 1 << 62)  # the disk has (almost) nothing free
    with pytest.raises(DiskFull, match="is full .*free some and try again"):
        app.search(QUERY)
    monkeypatch.setattr(lock_mod, "NEARLY_FULL", 0)  # space to spare: Chroma's own error, not ours
    with pytest.raises(RuntimeError):
        app.search(QUERY)


TMPFS_STORY = """
set -u
mount -t tmpfs -o size=2m tmpfs "$DIR" || exit 77
reread() { "$REREAD" "$@"; echo "== $?"; }
reread index --json
para="An otter crossed the weir at dusk while a kingfisher waited on the alder by the mill race. The water ran \
high after the rain, brown with silt from the ploughed fields upstream, and the heron moved to the quiet pool."
for i in $(seq -w 1 24); do
  { printf '# Walk %s\n\n' $i
    for j in 1 2 3 4 5 6; do printf '## Part %s\n\n%s %s %s\n\n' $j "$para" "$i" "$para"; done
  } > "$REREAD_NOTES_DIR/notes/walk-$i.md"
done
reread index --json
reread search "$QUERY" -k 1 --json
mount -o remount,size=16m "$DIR"
reread index --json
"""


@pytest.mark.slow
def test_story_a_2_mb_tmpfs_fills_up(settings, tmp_path):
    """The issue's setting for real: the index on a 2 MB tmpfs, in a mount namespace of its own (root only)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("mounting a tmpfs needs root and unshare")
    disk = tmp_path / "disk"
    disk.mkdir()
    settings = settings.model_copy(update={"index_dir": disk / "index"})
    p = run(settings, ["unshare", "-m", "--propagation", "private", "sh", "-c", TMPFS_STORY],
            DIR=str(disk), REREAD=REREAD, QUERY=QUERY)
    if p.returncode == 77:
        pytest.skip(f"cannot mount a tmpfs here: {p.stderr.strip()}")
    codes = [line for line in p.stdout.splitlines() if line.startswith("== ")]
    assert codes == ["== 0", "== 1", "== 0", "== 0"], (p.stdout, p.stderr)
    full = [line for line in p.stderr.splitlines() if "is full" in line]
    assert len(full) == 1 and "intact and searchable" in full[0] and "Traceback" not in p.stderr, p.stderr
    assert '"notes/glossary.md"' in p.stdout.split("== 1")[1]  # searched while the disk was full
    assert '"added": 24' in p.stdout.split("== 0")[-2] and '"failed": []' in p.stdout.split("== 0")[-2]


# --- 5. an index written by another embedding model, or by an older or newer reread ------------------------------

def rewrite_manifest(index_dir: Path, **changes) -> None:
    """Edit manifest.json as another reread (or another model) would have written it."""
    path = index_dir / mf.MANIFEST
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if key.startswith("fp_"):
            data["fingerprint"][key[3:]] = value
        else:
            data[key] = value
    path.write_text(json.dumps(data))


def test_an_index_of_another_model_is_named_and_rebuilt(built, settings, embedder):
    rewrite_manifest(settings.index_dir, fp_embed_model="/models/all-mpnet-base-v2", fp_encoder="torch")
    with pytest.raises(IndexMismatch, match="built with /models/all-mpnet-base-v2 but REREAD_EMBED_MODEL is "
                                            "all-MiniLM-L6-v2; run `reread index`"):
        Assistant(settings, embedder=embedder).search(QUERY)
    report = Assistant(settings, embedder=embedder).index()
    assert "embed_model /models/all-mpnet-base-v2 -> all-MiniLM-L6-v2" in report.messages[0]
    assert report.added == len(NOTES)
    assert sources(Assistant(settings, embedder=embedder))[0] == "notes/glossary.md"


def test_an_index_of_an_older_format_is_named_and_rebuilt(built, settings, embedder):
    rewrite_manifest(settings.index_dir, format=1, fp_format=1, lexical="")
    older = rf"written by an older reread \(index format 1, now {mf.FORMAT}\); run `reread index"
    with pytest.raises(IndexMismatch, match=older):
        Assistant(settings, embedder=embedder).search(QUERY)
    report = Assistant(settings, embedder=embedder).index()
    assert f"format 1 -> {mf.FORMAT}" in report.messages[0] and report.added == len(NOTES)
    app = Assistant(settings, embedder=embedder)
    assert sources(app)[0] == "notes/glossary.md" and app.store.names() == [app.manifest().collection]


def test_an_index_of_a_newer_format_is_left_alone(built, settings, embedder):
    """A rebuild would throw away what a newer reread wrote: both sides refuse, in one line."""
    rewrite_manifest(settings.index_dir, format=mf.FORMAT + 1, fp_format=mf.FORMAT + 1)
    before = tree(settings.index_dir)
    for act in (lambda app: app.search(QUERY), lambda app: app.index(), lambda app: app.index(full=True)):
        newer = rf"newer reread \(index format {mf.FORMAT + 1}; this one reads {mf.FORMAT}\): upgrade"
        with pytest.raises(IndexMismatch, match=newer):
            act(Assistant(settings, embedder=embedder))
    assert tree(settings.index_dir) == before


# --- 6. a failed `ask --export` leaves no file behind ---------------------------------------------------------------

QUESTION_FOR_EXPORT = "What does quantization do to model weights?"


@pytest.mark.slow
def test_a_failed_ask_export_leaves_no_file(built, settings, tmp_path):
    out = tmp_path / "exports" / "sub" / "answer.md"
    p = cli(settings, "ask", QUESTION_FOR_EXPORT, "--backend", "openai", "--export", str(out),
            OPENAI_BASE_URL="http://127.0.0.1:9/v1", OPENAI_API_KEY="sk-canary-not-a-key")
    one_line_error(p, "127.0.0.1:9")
    assert not (tmp_path / "exports").exists(), "a failed answer created the export folder"

    locked = tmp_path / "locked"
    locked.mkdir()
    prefix = permissions_that_hold()
    chmod_tree(locked, writable=False)
    try:
        p = cli(settings, "ask", QUESTION_FOR_EXPORT, "--export", str(locked / "answer.md"), prefix=prefix)
    finally:
        chmod_tree(locked, writable=True)
    one_line_error(p, "not writable")
    assert list(locked.iterdir()) == []


# --- 7. a 10 MB note: progress on stderr under --json, stdout the report alone ----------------------------------

def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_progress_says_files_the_file_being_read_and_chunks_embedded():
    import io

    from ingest.progress import JsonProgress

    out = io.StringIO()
    p = JsonProgress(out, every=0)
    p.start(2, "indexing")
    p.detail("reading", source="notes/big.md")
    p.detail("embedding", 512, 1200)
    p.advance()
    p.advance()
    p.finish()  # the same as the last advance: not said twice
    lines = [{k: v for k, v in line.items() if k != "seconds"} for line in json_lines(out.getvalue())]
    assert lines == [{"stage": "indexing", "done": 0, "total": 2, "unit": "files"},
                     {"stage": "reading", "source": "notes/big.md"},
                     {"stage": "embedding", "done": 512, "total": 1200, "unit": "chunks"},
                     {"stage": "indexing", "done": 1, "total": 2, "unit": "files"},
                     {"stage": "indexing", "done": 2, "total": 2, "unit": "files"}]


def test_json_progress_prints_a_held_back_line_when_its_time_comes():
    """The big note read right after a small one is named even though nothing else is said for minutes."""
    import io
    import time

    from ingest.progress import JsonProgress

    out = io.StringIO()
    p = JsonProgress(out, every=0.2)
    p.start(2, "indexing")
    p.detail("reading", source="notes/small.md")  # within 0.2 s of the start: held back
    p.detail("reading", source="notes/big.md")  # replaces it
    assert len(json_lines(out.getvalue())) == 1
    time.sleep(0.5)
    assert json_lines(out.getvalue())[-1]["source"] == "notes/big.md"
    assert "notes/small.md" not in out.getvalue()


class LengthEmbedder:
    """Vectors that say which text they belong to, and a record of each call's size."""

    name, encoder = "all-MiniLM-L6-v2", "onnx-int8"

    def __init__(self):
        self.calls: list[int] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(len(texts))
        return [[float(len(t))] for t in texts]


def test_embedding_is_sliced_with_progress_and_keeps_the_order():
    from ingest.types import Chunk
    from ingest.vectors import SLICE, vectors_for

    class Details:
        def __init__(self):
            self.seen: list[tuple[str, int, int]] = []

        def detail(self, stage: str, done: int = 0, total: int = 0, source: str = "") -> None:
            self.seen.append((stage, done, total))

    n = 2 * SLICE + 100
    chunks = [Chunk(id=str(i), source="notes/big.md", kind="note", title="big", heading="", page=None,
                    start=0, end=1, text=(t := f"w{i} " + "w " * ((i * 7919) % 300)), embed_text=t) for i in range(n)]
    embedder, progress = LengthEmbedder(), Details()
    vectors = vectors_for(chunks, {}, embedder, progress)
    assert vectors == [[float(len(c.embed_text))] for c in chunks]
    assert embedder.calls == [SLICE, SLICE, 100]
    assert progress.seen == [("embedding", 0, n), ("embedding", SLICE, n), ("embedding", 2 * SLICE, n),
                             ("embedding", n, n)]


def test_a_text_repeated_across_notes_is_embedded_once():
    """Daily notes from one template repeat whole sections: each repeated text costs one embedding."""
    from ingest.types import Chunk
    from ingest.vectors import vectors_for

    texts = ["## Tasks\n- [ ] review inbox", "Calm.", "## Tasks\n- [ ] review inbox", "Rain.", "Calm."]
    chunks = [Chunk(id=str(i), source=f"daily/{i}.md", kind="note", title="Daily", heading="", page=None,
                    start=0, end=1, text=t, embed_text=t) for i, t in enumerate(texts)]
    embedder = LengthEmbedder()
    assert vectors_for(chunks, {}, embedder) == [[float(len(t))] for t in texts]
    assert embedder.calls == [3]


def test_indexing_a_big_note_reports_progress_inside_the_file(tmp_path, fake_embedder, monkeypatch):
    import io

    import ingest.vectors as vectors_mod
    from ingest.progress import JsonProgress

    monkeypatch.setattr(vectors_mod, "SLICE", 32)  # a big note in miniature: 150 chunks, sliced in 32s
    para = "The heron waits in the reeds at dawn, and the otter crosses the weir. " * 6
    note = "# Big\n\n" + "".join(f"## Part {i}\n\n{para}\n\n" for i in range(150))
    vault = write_vault(tmp_path / "vault", {"notes/big.md": note, "notes/small.md": "# Small\n\nA wren.\n"})
    out = io.StringIO()
    s = Settings(notes_dir=vault, index_dir=tmp_path / "index", lock_timeout=0)
    report = Indexer(s, embedder=fake_embedder, progress=JsonProgress(out, every=0)).run()
    lines = json_lines(out.getvalue())
    assert report.chunks > 128 and not report.failed
    assert {"stage": "reading", "source": "notes/big.md"} in [{k: v for k, v in x.items() if k != "seconds"}
                                                             for x in lines]
    embedding = [(x["done"], x["total"]) for x in lines if x["stage"] == "embedding"]
    assert embedding[0] == (0, report.chunks) and embedding[-1] == (report.chunks, report.chunks)
    assert len(embedding) >= 5
    assert lines[-1]["stage"] == "indexing" and lines[-1]["done"] == lines[-1]["total"] == 2


@pytest.mark.slow
def test_reread_index_json_keeps_stdout_to_the_report(built, settings):
    (settings.notes_dir / "notes" / "wren.md").write_text("# Wren\n\nA wren sang from the hedge at noon.\n")
    p = cli(settings, "index", "--json")
    assert p.returncode == 0, p.stderr
    [report] = json_lines(p.stdout)
    assert set(report) == {"added", "updated", "removed", "renamed", "unchanged", "chunks", "seconds", "failed",
                           "warnings"} and report["added"] == 1
    progress = json_lines(p.stderr)  # every line of stderr is JSON: the progress
    assert progress[0]["stage"] == "indexing" and progress[-1]["done"] == progress[-1]["total"] == 1
