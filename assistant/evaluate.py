"""`reread eval`: retrieval (hit rate, MRR) and answer metrics on a QA file of JSON lines.

Each line: {"question": "...", "sources": ["notes/x.md"], "evidence": ["..."], "answer_contains": ["..."]}.
`sources` are the notes that hold the answer; a retrieved chunk is relevant when it comes from one of them
and (if `evidence` is given) contains one of those strings; `answer_contains` are words the answer needs.
"""

from __future__ import annotations

import json
from pathlib import Path
from time import perf_counter

from ingest.errors import ConfigError


def load_qa(path: Path) -> list[dict]:
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            assert isinstance(row, dict) and isinstance(row.get("question"), str)
        except (ValueError, AssertionError):
            raise ConfigError(f"{path}:{i} is not a QA line like "
                              '{"question": "...", "sources": ["notes/x.md"]}') from None
        rows.append(row)
    return rows


def evaluate(assistant, path: Path, k: int | None = None) -> dict:
    rows = load_qa(path)
    k = k or assistant.settings.top_k
    hit, rr, found, contains, cited_right, answered, graded = 0, 0.0, 0, 0, 0, 0, 0
    t0 = perf_counter()
    per = []
    for row in rows:
        want = set(row.get("sources") or [])
        evidence = [e.lower() for e in row.get("evidence") or []]
        hits = assistant.search(row["question"], k)
        ranks = [h.rank for h in hits if h.chunk.source in want
                 and (not evidence or any(e in h.chunk.text.lower() for e in evidence))]
        first = min(ranks) if ranks else None
        graded += bool(want)  # questions the notes cannot answer have no relevant passage to rank
        hit += first is not None
        rr += 1 / first if first else 0.0
        answer = assistant.ask(row["question"], k)
        found += answer.found == row.get("found", True)
        terms = [t.lower() for t in row.get("answer_contains") or []]
        ok_terms = all(t in answer.answer.lower() for t in terms)
        contains += ok_terms
        if answer.citations:
            answered += 1
            cited_right += any(c.source in want for c in answer.citations) if want else 1
        per.append({"question": row["question"], "first_relevant_rank": first, "found": answer.found,
                    "answer_contains": ok_terms})
    n = max(1, len(rows))
    g = max(1, graded)
    return {"questions": len(rows), "k": k, f"hit@{k}": round(hit / g, 3), "mrr": round(rr / g, 3),
            "found_agrees": round(found / n, 3), "answer_contains": round(contains / n, 3),
            "citation_in_expected_source": round(cited_right / max(1, answered), 3),
            "backend": assistant.backend(), "seconds": round(perf_counter() - t0, 2), "per_question": per}
