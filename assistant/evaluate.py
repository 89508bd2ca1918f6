"""`reread eval`: retrieval, refusal, citation and key-fact metrics of an assistant on a QA file of JSON lines.

A QA line: {"question": "...", "sources": ["notes/x.md"], "evidence": ["exact lowercase substring"],
"answer_contains": ["key fact"], "found": true}, optionally "history": ["an earlier question", ...] (a
follow-up; a [question, answer] pair is used as given) and "filters": {"tag": "x", "folder": ..., "kind": ...,
"source": ...}. A row with "found": false is out of scope: the notes do not answer it and it lists no sources.

Relevance: a retrieved chunk is relevant when it comes from one of `sources` and, if `evidence` is given,
contains one of those strings (case-insensitive). `check_qa` holds a file to that contract: every evidence
string occurs in a listed source, every listed source holds an evidence string (so the ideal below is
reachable) and every key fact occurs in a listed source (so an answer drawn from the notes can contain it).

Retrieval (answerable rows only: found true with sources), from one search 10 deep (or k, if deeper):
- recall@k: the fraction of rows with a relevant chunk in the top k.
- mrr@10: the mean of 1 / rank of the first relevant chunk (0 when none is in the top 10).
- ndcg@10, binary gains, deduplicated per source: a hit gains 1 when it is relevant and the first relevant hit
  from its source, so ten chunks of one note count once and a question answered by three notes rewards
  finding all three. DCG = sum gain_i / log2(i + 1) over ranks i = 1..10; the ideal puts one relevant chunk
  per expected source first: IDCG = sum_{i=1..m} 1 / log2(i + 1) with m = min(len(sources), 10).
A follow-up is searched with the question the answerer retrieved with (Answer.standalone), else as written.

Answers: found accuracy over all rows, its two errors listed apart (answered_out_of_scope: found though the
row says the notes do not answer; refused_in_scope: not found though they do); citation faults (a [n] marker
without citation n, a quote that is not the source's text[start:end] read from the index's vault, and in an
offline answer a quote that does not say the text cited to it); key-fact
containment (every `answer_contains` string in the answer text) over answerable rows that list key facts.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from time import perf_counter
from typing import Any

from ingest.errors import ConfigError, UnreadableFile
from ingest.markdown import HYPHEN_BREAK, LIGATURES, clean_inline
from ingest.types import Answer, Citation, Filters, Hit

from .citations import MARKER, MARKER_GROUP

DEPTH = 10  # MRR and nDCG are @10 whatever k is
LISTS = ("sources", "evidence", "answer_contains", "history")
FILTER_KEYS = {"tag": "tags", "folder": "folders", "kind": "kinds", "source": "sources"}


def load_qa(path: Path) -> list[dict]:
    """The rows of a QA file; a bad line raises ConfigError naming file:line and what is wrong."""
    rows = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise ConfigError(f"{path}:{i} is not JSON ({e}); a QA line looks like "
                              '{"question": "...", "sources": ["notes/x.md"]}') from None
        problem = _problem(row)
        if problem:
            raise ConfigError(f"{path}:{i}: {problem}")
        rows.append(row)
    return rows


def _problem(row: Any) -> str:
    if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not row["question"].strip():
        return 'not a QA line like {"question": "...", "sources": ["notes/x.md"]}'
    for key in LISTS:
        if key in row and not isinstance(row[key], list):
            return f'"{key}" must be a list'
    if not isinstance(row.get("found", True), bool):
        return '"found" must be true or false'
    if row.get("found") is False and row.get("sources"):
        return 'an out-of-scope row ("found": false) lists no sources'
    if not isinstance(row.get("filters", {}), dict) or set(row.get("filters", {})) - set(FILTER_KEYS):
        return f'"filters" is an object with keys among {sorted(FILTER_KEYS)}'
    return ""


def check_qa(rows: list[dict], vault: Path) -> list[str]:
    """What breaks the relevance contract against the vault's files; [] when the file is sound."""
    problems, pdfs = [], {}
    for row in rows:
        q = row["question"]
        texts = {}
        for s in row.get("sources") or []:
            try:
                texts[s] = _source_text(Path(vault), s, pdfs)
            except OSError as e:
                problems.append(f"{q!r}: source {s} unreadable ({e.strerror})")
            except UnreadableFile as e:
                problems.append(f"{q!r}: source {e}")
        evidence = [e.lower() for e in row.get("evidence") or []]
        problems += [f"{q!r}: evidence {e!r} is in none of its sources" for e in evidence
                     if not any(e in t for t in texts.values())]
        problems += [f"{q!r}: source {s} holds none of the evidence" for s, t in texts.items()
                     if evidence and not any(e in t for e in evidence)]
        problems += [f"{q!r}: key fact {f!r} is in none of its sources" for f in row.get("answer_contains") or []
                     if texts and not any(f.lower() in t for t in texts.values())]
    return problems


def _source_text(vault: Path, source: str, pdfs: dict[str, str]) -> str:
    """A source's text, lower-cased, as the index reads it: a PDF's pages as pypdf extracts them (read once)."""
    if not source.lower().endswith(".pdf"):
        return (vault / source).read_text(encoding="utf-8").lower()
    if source not in pdfs:
        from ingest.pdf import parse_pdf

        pdfs[source] = "\n\f".join(parse_pdf(source, vault / source).texts.values()).lower()
    return pdfs[source]


def relevant(hit: Hit, row: dict) -> bool:
    evidence = [e.lower() for e in row.get("evidence") or []]
    return hit.chunk.source in (row.get("sources") or []) and (
        not evidence or any(e in hit.chunk.text.lower() for e in evidence))


def retrieval_scores(hits: list[Hit], row: dict, k: int) -> dict:
    """first relevant rank, recall@k (0/1), reciprocal rank and nDCG, both @10, for one answerable row."""
    first, dcg, credited = None, 0.0, set()
    for i, hit in enumerate(hits[:max(k, DEPTH)], start=1):
        if not relevant(hit, row):
            continue
        first = first or i
        if i <= DEPTH and hit.chunk.source not in credited:
            credited.add(hit.chunk.source)
            dcg += 1 / math.log2(i + 1)
    ideal = sum(1 / math.log2(i + 1) for i in range(1, min(len(set(row["sources"])), DEPTH) + 1))
    return {"first_relevant_rank": first, "recall": int(first is not None and first <= k),
            "rr": 1 / first if first and first <= DEPTH else 0.0, "ndcg": dcg / ideal if ideal else 0.0}


class SourceTexts:
    """Source texts as the index read them (the manifest's vault and encoding; PDF pages via pypdf)."""

    def __init__(self, assistant):
        self._assistant = assistant
        self._cache: dict[tuple[str, int | None], str] = {}

    def text(self, source: str, page: int | None) -> str:
        key = (source, page)
        if key not in self._cache:
            m = self._assistant.manifest()
            path = Path(m.vault) / source
            if page:
                from pypdf import PdfReader

                reader = PdfReader(path)
                if reader.is_encrypted:
                    reader.decrypt("")
                self._cache[key] = reader.pages[page - 1].extract_text()
            else:
                entry = m.files.get(source)
                self._cache[key] = path.read_bytes().decode(getattr(entry, "encoding", None) or "utf-8")
        return self._cache[key]


def markers(text: str) -> set[int]:
    """The citation numbers an answer uses: [n] and grouped [n, m] markers, escaped ones excluded."""
    found = {int(n) for n in MARKER.findall(text)}
    for group in MARKER_GROUP.findall(text):
        found |= {int(n) for n in group.split(",")}
    return found


def citation_faults(answer: Answer, sources: SourceTexts) -> list[str]:
    numbers = {c.n for c in answer.citations}
    faults = [f"[{n}] has no citation" for n in sorted(markers(answer.answer) - numbers)]
    for c in answer.citations:
        faults += _quote_fault(c, sources)
    if answer.backend == "extractive":  # its text is the notes' own sentences: each one's quote must say it
        faults += _unsaid(answer)
    return faults


def _unsaid(answer: Answer) -> list[str]:
    """Extractive citations whose quote does not hold the text cited to it (a sentence of page 48 cited on page 45
    passes the quote check, offsets and all): most of the quote's words must be in the text before its [n]."""
    cites = {c.n: c for c in answer.citations}
    parts = MARKER.split(answer.answer)
    faults = []
    for text, n in zip(parts[0::2], parts[1::2], strict=False):
        c = cites.get(int(n))
        quoted = _content(clean_inline(c.quote)) if c else set()  # as read: a link's text, not its URL
        if quoted and len(quoted & _content(text)) < 0.8 * len(quoted):
            faults.append(f"[{n}] {c.source}{f' p. {c.page}' if c.page else ''}: the quote does not say the text "
                          "cited to it")
    return faults


def _content(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", HYPHEN_BREAK.sub(r"\1\2", text.translate(LIGATURES)).lower())
            if len(w) > 3}


def _quote_fault(c: Citation, sources: SourceTexts) -> list[str]:
    try:
        text = sources.text(c.source, c.page)
    except (OSError, UnicodeDecodeError, IndexError, ValueError) as e:
        return [f"[{c.n}] {c.source}: unreadable ({e})"]
    if text[c.start:c.end] != c.quote:
        return [f"[{c.n}] {c.source}{f' p. {c.page}' if c.page else ''} [{c.start}:{c.end}] is not the quote"]
    return []


def row_filters(row: dict) -> Filters | None:
    spec = row.get("filters") or {}
    if not spec:
        return None
    as_tuple = {FILTER_KEYS[k]: tuple(v if isinstance(v, list) else [v]) for k, v in spec.items()}
    return Filters(**as_tuple)


def _answer(assistant, row: dict, k: int, filters: Filters | None) -> Answer:
    pairs: list[tuple[str, str]] = []
    for turn in row.get("history") or []:
        if isinstance(turn, str):  # an earlier question: the conversation is replayed to get its answer
            pairs.append((turn, assistant.chat(list(pairs), turn, k=k, filters=filters).answer))
        else:
            pairs.append((str(turn[0]), str(turn[1])))
    return assistant.chat(pairs, row["question"], k=k, filters=filters)


def evaluate(assistant, path: Path, k: int | None = None) -> dict:
    """Run every row of the QA file through the assistant's facade; JSON-able metrics, nothing printed."""
    rows = load_qa(Path(path))
    k = k or assistant.settings.top_k
    sources = SourceTexts(assistant)
    t0 = perf_counter()
    per: list[dict] = []
    for row in rows:
        filters = row_filters(row)
        t = perf_counter()
        answer = _answer(assistant, row, k, filters)
        answer_s = perf_counter() - t
        query = (answer.standalone or row["question"]) if row.get("history") else row["question"]
        t = perf_counter()
        hits = assistant.search(query, max(k, DEPTH), filters, rescore=True)  # the sources an answer is built on
        search_s = perf_counter() - t
        expected = row.get("found", True)
        item = {"question": row["question"], "found": answer.found, "expected_found": expected,
                "search_ms": round(search_s * 1000, 1), "answer_ms": round(answer_s * 1000, 1)}
        if row.get("history"):
            item.update(history=row["history"], query=query)
        if expected and row.get("sources"):
            item.update({key: round(v, 4) if isinstance(v, float) else v
                         for key, v in retrieval_scores(hits, row, k).items()})
        terms = [t.lower() for t in row.get("answer_contains") or []]
        if expected and terms:
            item["missing_facts"] = [t for t in terms if t not in answer.answer.lower()]
        item["citation_faults"] = citation_faults(answer, sources)
        if expected and row.get("sources") and answer.citations:
            item["cited_expected_source"] = any(c.source in row["sources"] for c in answer.citations)
        per.append(item)
    return _summary(per, k, assistant.backend(), perf_counter() - t0, str(path))


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _summary(per: list[dict], k: int, backend: str, seconds: float, path: str) -> dict:
    graded = [p for p in per if "rr" in p]
    facts = [p for p in per if "missing_facts" in p]
    cited = [p for p in per if "cited_expected_source" in p]
    return {
        "file": path, "questions": len(per), "answerable": sum(p["expected_found"] for p in per),
        "out_of_scope": sum(not p["expected_found"] for p in per), "k": k, "backend": backend,
        f"recall@{k}": _mean([p["recall"] for p in graded]), "mrr@10": _mean([p["rr"] for p in graded]),
        "ndcg@10": _mean([p["ndcg"] for p in graded]), "retrieval_graded": len(graded),
        "found_accuracy": _mean([p["found"] == p["expected_found"] for p in per]),
        "answered_out_of_scope": [p["question"] for p in per if p["found"] and not p["expected_found"]],
        "refused_in_scope": [p["question"] for p in per if not p["found"] and p["expected_found"]],
        "answer_contains": _mean([not p["missing_facts"] for p in facts]), "answer_contains_graded": len(facts),
        "citation_faults": sum(len(p["citation_faults"]) for p in per),
        "answers_with_citation_faults": sum(bool(p["citation_faults"]) for p in per),
        "cited_expected_source": _mean([p["cited_expected_source"] for p in cited]),
        "seconds": round(seconds, 2),
        "search_ms_mean": _mean([p["search_ms"] for p in per]), "answer_ms_mean": _mean([p["answer_ms"] for p in per]),
        "per_question": per,
    }
