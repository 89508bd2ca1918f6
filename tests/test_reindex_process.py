"""Re-indexing as real `reread` processes: kill -9 midway, a light no-change run, one writer, --watch.

In-process tests cannot show a SIGKILL between two writes, what a fresh interpreter imports, or two
processes contending for one index; these run the installed `reread` script next to sys.executable.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.facade import Assistant
from ingest import manifest as mf
from ingest.lock import WriterLock
from ingest.settings import Settings
from ingest.store import ChromaStore
from tests.conftest import study_session, write_vault

pytestmark = pytest.mark.slow

REREAD = str(Path(sys.executable).parent / "reread")
HEAVY = ("torch", "sentence_transformers", "chromadb", "llama_index")

ANIMALS = ["heron", "otter", "badger", "kestrel", "newt", "marten", "plover", "vole", "stoat", "curlew"]
PLACES = ["the estuary", "an old quarry", "the beech wood", "a chalk stream", "the salt marsh", "a hay meadow"]

# Runs in a fresh interpreter: what the manifest and the Chroma collection hold, for comparing indexes.
INSPECT = """
import json, sys
from pathlib import Path
from ingest import manifest as mf
from ingest.store import ChromaStore
d = Path(sys.argv[1]).resolve()
m = mf.load(d)
s = ChromaStore(d)
print(json.dumps({"collection": m.collection, "files": {k: e.chunk_ids for k, e in m.files.items()},
                  "store_ids": sorted(s.ids(m.collection)), "count": s.count(m.collection),
                  "text_ids": sorted(s.texts.ids(m.collection)),
                  "names": sorted(s.names()), "dirty": (d / mf.DIRTY).exists(),
                  "building": (d / mf.BUILDING).exists()}))
"""

# Runs the CLI in process, then reports which heavy packages the run imported.
IMPORTS = """
import json, sys
sys.argv = ["reread", "index", "--json"]
from assistant.cli import main
try:
    main()
except SystemExit as e:
    code = e.code
print(json.dumps({"code": code, "heavy": sorted(m for m in HEAVY if m in sys.modules)}))
""".replace("HEAVY", repr(HEAVY))

# A long-lived reader (like the UI): one search per stdin line, through the facade, one JSON line out.
READER = """
import json, sys
from assistant.facade import Assistant
from ingest.settings import load_settings
app = Assistant(load_settings())
for line in sys.stdin:
    try:
        hits = app.search(line.strip(), 3)
        print(json.dumps({"sources": [h.chunk.source for h in hits]}), flush=True)
    except Exception as e:
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
"""


def note(i: int, rng: random.Random) -> str:
    animal, place = ANIMALS[i % len(ANIMALS)], rng.choice(PLACES)
    return (f"---\ntags: [field-notes, {animal}]\n---\n# {animal.title()} sighting {i}\n\n"
            f"A {animal} was seen near {place} on walk {i}. It stayed for {rng.randint(2, 40)} minutes.\n\n"
            f"## Notes\n\n- weather: {rng.choice(['rain', 'sun', 'fog', 'wind'])}\n"
            f"- count: {rng.randint(1, 9)}\n\nMarker phrase walk-{i}-{animal}.\n")


def gen_vault(root: Path, n: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    return write_vault(root, {f"notes/{i // 50:02d}/walk-{i:03d}.md": note(i, rng) for i in range(n)})


def env_for(vault: Path, index_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_"))}
    env.update(HF_HUB_OFFLINE="1", REREAD_NOTES_DIR=str(vault), REREAD_INDEX_DIR=str(index_dir),
               REREAD_BACKEND="extractive", REREAD_LOCK_TIMEOUT="60")
    env.update(extra)
    return env


def run(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([REREAD, *args], env=env, capture_output=True, text=True, timeout=timeout)


def index_json(env: dict[str, str], *args: str) -> dict:
    p = run(env, "index", "--json", *args)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def python(env: dict[str, str], code: str, *args: str) -> dict:
    p = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def inspect(env: dict[str, str], index_dir: Path) -> dict:
    return python(env, INSPECT, str(index_dir))


def assert_clean(info: dict) -> None:
    """Manifest and Chroma agree exactly: no doubled chunk, no orphan chunk or collection, no repair pending."""
    ids = [i for chunk_ids in info["files"].values() for i in chunk_ids]
    assert len(ids) == len(set(ids))
    assert info["store_ids"] == sorted(ids) and info["count"] == len(ids)
    assert info["text_ids"] == sorted(ids), "every chunk has its text, and no text is left without a chunk"
    assert info["names"] == [info["collection"]]
    assert not info["dirty"] and not info["building"]


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def newest_mtime(folder: Path) -> int:
    """The latest write under folder (files come and go while Chroma writes: those are skipped)."""
    newest = 0
    for p in folder.rglob("*") if folder.exists() else []:
        try:
            newest = max(newest, p.stat().st_mtime_ns)
        except OSError:
            continue
    return newest


def kill_when(proc: subprocess.Popen, cond: Callable[[], bool], what: str) -> None:
    wait_for(lambda: cond() or proc.poll() is not None, 600, what)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before {what}; nothing was killed"


def session_edits(vault: Path) -> None:
    """Edit 100 notes, delete 3, move 2 to another folder, add 3: several write batches of work."""
    for i in range(100):
        path = next(vault.glob(f"notes/*/walk-{i:03d}.md"))
        path.write_text(path.read_text(encoding="utf-8").replace("It stayed", f"Edited {i}: it lingered"),
                        encoding="utf-8", newline="")
    for i in (100, 101, 102):
        next(vault.glob(f"notes/*/walk-{i:03d}.md")).unlink()
    (vault / "archive").mkdir()
    for i in (110, 111):
        os.rename(next(vault.glob(f"notes/*/walk-{i:03d}.md")), vault / "archive" / f"walk-{i:03d}.md")
    write_vault(vault, {f"notes/new-{i}.md": f"# New {i}\n\nA fresh note about a wren, number {i}.\n"
                        for i in range(3)})


def test_kill_9_during_full_rebuild_then_rerun(tmp_path):
    """A full rebuild killed while writing the next collection: the re-run leaves the same chunks, no orphans."""
    vault, index_dir = gen_vault(tmp_path / "vault", 150), tmp_path / "index"
    env = env_for(vault, index_dir)
    first = index_json(env)
    before = inspect(env, index_dir)
    assert first["added"] == 150 and first["chunks"] == sum(map(len, before["files"].values()))

    proc = subprocess.Popen([REREAD, "index", "--full", "--json"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    building = index_dir / mf.BUILDING
    wait_for(lambda: building.exists() or proc.poll() is not None, 120, "the rebuild to start")
    started = building.stat().st_mtime_ns
    kill_when(proc, lambda: newest_mtime(index_dir / "chroma") > started, "the first batch reached Chroma")
    assert building.exists()

    again = index_json(env)
    assert again["chunks"] == first["chunks"]
    assert again["unchanged"] == 150 and again["failed"] == []
    after = inspect(env, index_dir)
    assert_clean(after)
    assert after["files"] == before["files"]


@pytest.mark.parametrize("moment", ["after-deletes", "after-first-batch"])
def test_kill_9_during_incremental_run_then_rerun(tmp_path, moment):
    """An incremental run killed midway: the re-run matches a fresh index of the same vault, chunk for chunk."""
    vault, index_dir = gen_vault(tmp_path / "vault", 150), tmp_path / "index"
    env = env_for(vault, index_dir)
    index_json(env)
    session_edits(vault)

    proc = subprocess.Popen([REREAD, "index", "--json"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dirty, manifest = index_dir / mf.DIRTY, index_dir / mf.MANIFEST
    saved = manifest.stat().st_mtime_ns
    wait_for(lambda: dirty.exists() or proc.poll() is not None, 120, "the run to start writing")
    marked = dirty.stat().st_mtime_ns
    if moment == "after-deletes":
        kill_when(proc, lambda: newest_mtime(index_dir / "chroma") > marked, "Chroma was first written")
    else:
        kill_when(proc, lambda: manifest.stat().st_mtime_ns > saved, "the first batch was recorded")
    assert dirty.exists()

    again = index_json(env)
    assert again["failed"] == []
    repaired = inspect(env, index_dir)
    assert_clean(repaired)

    fresh_dir = tmp_path / "fresh-index"
    fresh_env = env_for(vault, fresh_dir)
    clean = index_json(fresh_env)
    fresh = inspect(fresh_env, fresh_dir)
    assert repaired["files"] == fresh["files"]
    assert again["chunks"] == clean["chunks"] == repaired["count"]


def test_chroma_opens_without_its_development_time_override_checks(tmp_path):
    """chromadb's classes check their methods' signatures as they are made (the `overrides` package): ~0.17 CPU-s
    of every fresh search, ask and index. The store skips the check; Chroma works as before."""
    code = """
import json, sys, overrides
from ingest.store import ChromaStore
from ingest.types import Chunk
store = ChromaStore(sys.argv[1])
name = store.new_name("t")
store.add(name, [Chunk(id="a", source="n.md", kind="note", title="N", heading="H", page=None, start=0, end=4,
                       text="text")], [[1.0] + [0.0] * 383])
from chromadb.api.segment import SegmentAPI
print(json.dumps({"light": overrides.override.light, "marked": SegmentAPI._count.__override__,
                  "found": [c.text for c, _ in store.query(name, [1.0] + [0.0] * 383, 1)]}))
"""
    assert python(env_for(tmp_path, tmp_path / "index"), code, str(tmp_path / "index")) == {
        "light": True, "marked": True, "found": ["text"]}


def test_runs_without_embedding_import_nothing_heavy(tmp_path):
    """No change (or a touch) imports none of torch, sentence-transformers, chromadb, llama-index;
    a delete or a rename needs Chroma but never the embedding model."""
    vault, index_dir = gen_vault(tmp_path / "vault", 20), tmp_path / "index"
    env = env_for(vault, index_dir)
    index_json(env)

    out = python(env, IMPORTS)
    assert out == {"code": 0, "heavy": []}

    path = next(vault.glob("notes/*/walk-003.md"))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert python(env, IMPORTS) == {"code": 0, "heavy": []}

    next(vault.glob("notes/*/walk-004.md")).unlink()
    out = python(env, IMPORTS)
    assert out["code"] == 0 and not {"torch", "sentence_transformers"} & set(out["heavy"])

    os.rename(path, vault / "walk-003-moved.md")
    out = python(env, IMPORTS)
    assert out["code"] == 0 and not {"torch", "sentence_transformers"} & set(out["heavy"])

    report = index_json(env)
    assert (report["unchanged"], report["removed"], report["renamed"]) == (19, 0, 0)
    assert report["seconds"] < 1.0
    assert_clean(inspect(env, index_dir))


def test_second_writer_exits_1_while_readers_keep_working(tmp_path):
    """While another writer holds the lock, `reread index` gives up with one line and exit 1; search still works."""
    vault, index_dir = gen_vault(tmp_path / "vault", 10), tmp_path / "index"
    env = env_for(vault, index_dir, REREAD_LOCK_TIMEOUT="0.5")
    index_json(env)
    with WriterLock(index_dir.resolve(), 0):
        t0 = time.monotonic()
        p = run(env, "index", "--json")
        waited = time.monotonic() - t0
        assert p.returncode == 1
        assert p.stdout == ""
        assert "Traceback" not in p.stderr
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and str(os.getpid()) in lines[0] and "REREAD_LOCK_TIMEOUT" in lines[0]
        assert waited >= 0.5

        s = run(env, "search", "heron near the estuary", "-k", "3", "--json")
        assert s.returncode == 0, s.stderr
        assert len(json.loads(s.stdout)["hits"]) == 3


def test_second_writer_waits_for_the_lock(tmp_path):
    """With a longer REREAD_LOCK_TIMEOUT the second writer waits, then runs once the first is done."""
    vault, index_dir = gen_vault(tmp_path / "vault", 10), tmp_path / "index"
    env = env_for(vault, index_dir, REREAD_LOCK_TIMEOUT="60")
    index_json(env)
    lock = WriterLock(index_dir.resolve(), 0)
    with lock:
        proc = subprocess.Popen([REREAD, "index", "--json"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)
        assert proc.poll() is None, "the second writer must wait while the lock is held"
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out)["unchanged"] == 10


def test_reader_keeps_working_during_full_rebuild(tmp_path):
    """A long-lived reader (like the UI) answers from the current collection while a rebuild fills the next,
    and from the new one after the swap."""
    vault, index_dir = gen_vault(tmp_path / "vault", 150), tmp_path / "index"
    env = env_for(vault, index_dir)
    index_json(env)
    reader = subprocess.Popen([sys.executable, "-c", READER], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert reader.stdin is not None and reader.stdout is not None

    def ask(q: str) -> dict:
        reader.stdin.write(q + "\n")
        reader.stdin.flush()
        return json.loads(reader.stdout.readline())

    try:
        assert len(ask("otter near the salt marsh")["sources"]) == 3
        writer = subprocess.Popen([REREAD, "index", "--full", "--json"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        building = index_dir / mf.BUILDING
        wait_for(lambda: building.exists() or writer.poll() is not None, 120, "the rebuild to start")
        started = building.stat().st_mtime_ns
        wait_for(lambda: newest_mtime(index_dir / "chroma") > started or writer.poll() is not None, 300,
                 "the rebuild to write")
        during = ask("kestrel in the beech wood")
        still_running = writer.poll() is None
        out, _ = writer.communicate(timeout=600)
        assert writer.returncode == 0 and json.loads(out)["chunks"] > 0
        after = ask("badger at an old quarry")
    finally:
        reader.stdin.close()
        reader.wait(30)
    assert still_running, "the rebuild finished before the reader could ask during it"
    assert len(during.get("sources", [])) == 3, during
    assert len(after.get("sources", [])) == 3, after
    assert_clean(inspect(env, index_dir))


def _lines(stream) -> queue.Queue:
    q: queue.Queue = queue.Queue()

    def pump():
        for line in stream:
            q.put(line)
        q.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return q


def _next_report(q: queue.Queue, timeout: float) -> dict:
    line = q.get(timeout=timeout)
    assert line is not None, "the watcher exited"
    return json.loads(line)


def test_watch_picks_up_saved_edits(tmp_path):
    """`reread index --watch --json` prints one report per debounced batch of saves, each exact."""
    vault = gen_vault(tmp_path / "vault", 10)
    index_dir = vault / "index"  # inside the vault, like the default data/index: its writes must not loop
    env = env_for(vault, index_dir)
    index_json(env)
    log = tmp_path / "watch.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([REREAD, "index", "--watch", "--json"], env=env, stdout=subprocess.PIPE,
                                stderr=err, text=True)
    try:
        reports = _lines(proc.stdout)
        assert _next_report(reports, 60)["unchanged"] == 10
        wait_for(lambda: "watching" in log.read_text(), 30, "the watcher to start")
        time.sleep(0.5)

        path = next(vault.glob("notes/*/walk-002.md"))
        path.write_text(path.read_text(encoding="utf-8") + "\nA saved edit about a wren.\n", encoding="utf-8")
        first = _next_report(reports, 90)  # the first edit loads the model
        assert (first["updated"], first["unchanged"]) == (1, 9)

        t0 = time.monotonic()
        for i in (5, 6, 7):  # saved together: one debounced run
            p = next(vault.glob(f"notes/*/walk-{i:03d}.md"))
            p.write_text(p.read_text(encoding="utf-8") + f"\nAnother edit {i}.\n", encoding="utf-8")
        next(vault.glob("notes/*/walk-008.md")).unlink()
        got = _next_report(reports, 30)
        latency = time.monotonic() - t0
        while got["updated"] + got["removed"] < 4:  # tolerate a burst split across two runs
            more = _next_report(reports, 30)
            got = {k: got[k] + more[k] for k in ("updated", "removed")}
        assert (got["updated"], got["removed"]) == (3, 1)
        assert latency < 10, f"a saved edit took {latency:.1f}s to be indexed"

        (index_dir / "stray.md").write_text("# not a note\n")  # writes under the index never trigger a run
        with pytest.raises(queue.Empty):
            reports.get(timeout=3)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "Traceback" not in log.read_text()
    info = inspect(env, index_dir)
    assert_clean(info)
    assert len(info["files"]) == 9


def chunk_rows(index_dir: Path, store: ChromaStore | None = None) -> tuple[dict, dict]:
    """What an index holds, read in this process: its manifest's files, whether Chroma holds exactly what the
    manifest lists (one collection, no repair pending), and every chunk as ((source, start, end, text), vector).
    A store made here is closed after, so the next read opens Chroma afresh and sees what other processes wrote."""
    index_dir = index_dir.resolve()
    m, own = mf.load(index_dir), store is None
    store = store or ChromaStore(index_dir)
    try:
        listed = sorted(i for e in m.files.values() for i in e.chunk_ids)
        got = store.get_with_vectors(m.collection, listed)
        clean = (sorted(store.ids(m.collection)) == listed == sorted(got) and store.names() == [m.collection]
                 and not (index_dir / mf.DIRTY).exists() and not (index_dir / mf.BUILDING).exists())
    finally:
        if own:
            store.client.close()
    info = {"files": {k: sorted(e.chunk_ids) for k, e in m.files.items()}, "clean": clean}
    return info, {i: ((c.source, c.start, c.end, c.text), v) for i, (c, v) in got.items()}


def same_chunks(got: dict, want: dict) -> dict:
    """Ids, texts and offsets equal; each vector that of its own text: the encoder embeds each text alone, so
    a chunk re-embedded by a repair gets the clean build's vector (to float rounding through Chroma)."""
    import numpy as np

    ids = sorted(want)
    if sorted(got) != ids or any(got[i][0] != want[i][0] for i in ids):
        return {"texts_equal": False}
    a, b = (np.asarray([rows[i][1] for i in ids]) for rows in (got, want))
    a, b = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in (a, b))
    cos = a @ b.T
    own = np.diag(cos)
    return {"texts_equal": True, "min_cosine": float(own.min()) if len(ids) else 1.0,
            "own_nearest": bool((own >= cos.max(axis=1) - 1e-6).all())}


KILL_TRIALS = int(os.environ.get("REREAD_KILL_TRIALS", "4"))  # kills per kind of run; CI runs 4 + 4


def random_edits(vault: Path, rng: random.Random, t: int) -> None:
    """Edit 34 notes (with the 2 added, two write batches), delete 2, rename 2."""
    study_session(vault, rng, str(t), 34, 4, lambda g: f"\nTrial {t}: {g.choice(PLACES)}, {g.random():.6f}.\n",
                  {f"notes/trial-{t}-{i}.md": f"# Trial {t}.{i}\n\nA plover at {rng.choice(PLACES)}.\n"
                   for i in range(2)})


def started_writing(proc: subprocess.Popen, marker: Path, since: int) -> None:
    """Until the run (re)writes its marker (a killed run leaves one behind) or exits."""
    def marked() -> bool:
        try:
            return marker.stat().st_mtime_ns > since
        except FileNotFoundError:
            return False
    wait_for(lambda: marked() or proc.poll() is not None, 120, "the run to start writing")


def run_killed(env: dict[str, str], args: list[str], marker: Path, rng: random.Random, span: float) -> bool:
    """Start `reread index ARGS`, kill -9 it a random moment after it starts writing; True if it was killed."""
    since = time.time_ns() - 1
    proc = subprocess.Popen([REREAD, "index", "--json", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started_writing(proc, marker, since)
    time.sleep(rng.uniform(0, span))
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    return proc.returncode == -signal.SIGKILL


def timed_run(env: dict[str, str], args: list[str], marker: Path) -> float:
    """An uninterrupted run: seconds from its first write marker to its exit (the span random kills fall in)."""
    since = time.time_ns() - 1
    proc = subprocess.Popen([REREAD, "index", "--json", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started_writing(proc, marker, since)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return time.monotonic() - t0


@pytest.mark.parametrize("kind", ["incremental", "full"])
def test_kill_9_at_random_moments_then_rerun(tmp_path, embedder, kind):
    """kill -9 at REREAD_KILL_TRIALS random moments (4 by default) of runs that write, some of them during the
    repair of the kill before: each completing re-run equals a clean index of the same vault, chunk for chunk
    (ids, texts, offsets, vectors). The clean one is indexed beside it without interruption."""
    seed = int(os.environ.get("REREAD_KILL_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    vault, index_dir, clean_dir = gen_vault(tmp_path / "vault", 48), tmp_path / "index", tmp_path / "clean"
    env = env_for(vault, index_dir)
    args, marker = ([], index_dir / mf.DIRTY) if kind == "incremental" else (["--full"], index_dir / mf.BUILDING)
    index_json(env)
    clean = Assistant(Settings(notes_dir=vault, index_dir=clean_dir, backend="extractive"), embedder=embedder)
    if kind == "incremental":
        random_edits(vault, rng, -1)
    span = timed_run(env, args, marker) * 0.9  # most kills land before the end, at any point of the writing
    kills = tries = t = 0
    while kills < KILL_TRIALS and tries < 3 * KILL_TRIALS:
        if kind == "incremental":
            random_edits(vault, rng, t)
        for repair in (False, True, True, True):  # the run, then maybe its repairs, killed too
            if kills == KILL_TRIALS or (repair and rng.random() >= 0.4):
                break
            tries += 1
            if run_killed(env, [] if repair else args, index_dir / mf.DIRTY if repair else marker, rng,
                          span / 2 if repair else span):  # a repair has less to do
                kills += 1
            elif not repair:  # it finished first: aim earlier next time
                span *= 0.8
        assert index_json(env)["failed"] == [], f"seed {seed}"
        clean.index()
        info, rows = chunk_rows(index_dir)
        want_info, want = chunk_rows(clean_dir, clean.store)
        assert info["clean"] and info["files"] == want_info["files"], f"seed {seed}, trial {t}"
        same = same_chunks(rows, want)
        assert same["texts_equal"] and same["own_nearest"] and same["min_cosine"] > 0.9999, f"seed {seed}, {t}: {same}"
        t += 1
    assert kills == KILL_TRIALS, f"seed {seed}: only {kills} of {tries} runs were killed before they finished"
