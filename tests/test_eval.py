"""`reread eval` itself: metric arithmetic on hand-made hits and answers, the QA files' contract, one real run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.evaluate import check_qa, evaluate, load_qa
from ingest.errors import ConfigError
from ingest.types import Answer, Chunk, Citation, Filters, Hit
from tests.conftest import ROOT, write_vault

NOTE_A = "# A\n\nAlpha beta. The needle is here. Gamma delta.\n"
NOTE_B = "# B\n\nAnother needle lives in b.\n"


def hit(source: str, text: str, rank: int) -> Hit:
    chunk = Chunk(id=f"{source}-{rank}", source=source, kind="note", title=source, heading="", page=None,
                  start=0, end=len(text), text=text)
    return Hit(chunk, rank, 1.0 / rank)


def cite(n: int, source: str, text: str, quote: str, shift: int = 0) -> Citation:
    start = text.index(quote) + shift
    return Citation(n=n, source=source, title=source, heading="", page=None, chunk_id="c", start=start,
                    end=start + len(quote), quote=quote)


def answer(question: str, text: str = "Alpha beta. [1]", citations=(), found: bool = True, standalone: str = ""):
    return Answer(question, text, list(citations), "fake", found, standalone=standalone)


class FakeAssistant:
    """The facade's surface eval uses (settings, manifest, backend, search, ask), answering from tables."""

    def __init__(self, vault: Path, hits: dict[str, list[Hit]], answers: dict[str, Answer], top_k: int = 5):
        self.settings = SimpleNamespace(top_k=top_k)
        self.vault, self.hits, self.answers = vault, hits, answers
        self.searches: list[tuple[str, int | None, Filters | None]] = []

    def manifest(self):
        return SimpleNamespace(vault=str(self.vault), files={})

    def backend(self, name=None) -> str:
        return "fake"

    def search(self, query: str, k: int | None = None, filters: Filters | None = None, rescore: bool = False
               ) -> list[Hit]:
        assert rescore, "eval measures the sources an answer is built on"
        self.searches.append((query, k, filters))
        return self.hits.get(query, [])[:k]

    def chat(self, history, question: str, k: int | None = None, filters=None) -> Answer:
        return self.answers.get(question) or answer(question, "Your notes don't seem to answer this.", found=False)


class ChatAssistant(FakeAssistant):
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.chats: list[tuple[list, str]] = []

    def chat(self, history, question: str, k: int | None = None, filters=None) -> Answer:
        self.chats.append((list(history), question))
        return self.answers.get(question) or answer(question, f"answer to {question}")


@pytest.fixture
def notes(tmp_path) -> Path:
    return write_vault(tmp_path / "v", {"notes/a.md": NOTE_A, "notes/b.md": NOTE_B, "notes/c.md": "# C\nnothing"})


def qa_file(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_known_rank_gives_known_recall_mrr_and_ndcg(tmp_path, notes):
    two = {"question": "two notes", "sources": ["notes/a.md", "notes/b.md"], "evidence": ["needle"]}
    late = {"question": "late", "sources": ["notes/a.md"], "evidence": ["needle"]}
    hits = {"two notes": [hit("notes/c.md", "a needle in the wrong note", 1), hit("notes/a.md", "the needle", 2),
                          hit("notes/a.md", "a second needle of a", 3), hit("notes/b.md", "no match here", 4),
                          hit("notes/b.md", "needle of b", 5)],
            "late": [hit("notes/c.md", f"filler {i}", i) for i in range(1, 7)] + [hit("notes/a.md", "needle", 7)]}
    fake = FakeAssistant(notes, hits, {})
    result = evaluate(fake, qa_file(tmp_path, [two, late]), k=5)
    first, second = result["per_question"]
    assert (first["first_relevant_rank"], first["recall"], first["rr"]) == (2, 1, 0.5)
    # the third hit repeats note a: no gain; b's relevant chunk at 5 gains; the ideal finds both notes first
    ndcg = (1 / math.log2(3) + 1 / math.log2(6)) / (1 + 1 / math.log2(3))
    assert first["ndcg"] == pytest.approx(ndcg, abs=1e-4)
    assert (second["first_relevant_rank"], second["recall"]) == (7, 0)  # found, but below k
    assert second["rr"] == pytest.approx(1 / 7, abs=1e-4)
    assert second["ndcg"] == pytest.approx(1 / math.log2(8), abs=1e-4)  # ideal: one source at rank 1
    assert result["recall@5"] == 0.5
    assert result["mrr@10"] == pytest.approx((0.5 + 1 / 7) / 2, abs=1e-4)
    assert result["ndcg@10"] == pytest.approx((ndcg + 1 / math.log2(8)) / 2, abs=1e-4)
    # one search per question, ten deep, shared by recall@5 and the @10 metrics
    assert [(q, k) for q, k, _ in fake.searches] == [("two notes", 10), ("late", 10)]


def test_a_refused_answerable_question_and_an_answered_out_of_scope_one_are_counted_apart(tmp_path, notes):
    rows = [{"question": "in scope", "sources": ["notes/a.md"], "answer_contains": ["needle"]},
            {"question": "out of scope", "found": False},
            {"question": "also out", "found": False}]
    answers = {"out of scope": answer("out of scope", "Alpha beta. [1]",
                                      [cite(1, "notes/a.md", NOTE_A, "Alpha beta.")])}
    result = evaluate(FakeAssistant(notes, {}, answers), qa_file(tmp_path, rows))
    assert result["refused_in_scope"] == ["in scope"]
    assert result["answered_out_of_scope"] == ["out of scope"]
    assert result["found_accuracy"] == pytest.approx(1 / 3, abs=1e-4)  # only "also out" was right
    assert (result["answerable"], result["out_of_scope"], result["retrieval_graded"]) == (1, 2, 1)
    assert result["answer_contains"] == 0.0 and result["answer_contains_graded"] == 1  # a refusal lacks the fact


def test_a_wrong_quote_offset_and_a_marker_without_citation_are_citation_faults(tmp_path, notes):
    good = cite(1, "notes/a.md", NOTE_A, "The needle is here.")
    shifted = cite(2, "notes/a.md", NOTE_A, "Gamma delta.", shift=1)
    rows = [{"question": q, "sources": ["notes/a.md"]} for q in ("clean", "shifted", "dangling")]
    answers = {
        "clean": answer("clean", r"The needle is here [1], not \[2\].", [good]),
        "shifted": answer("shifted", "Needle [1]. Gamma [2].", [good, shifted]),
        "dangling": answer("dangling", "Needle [1, 3].", [good]),
    }
    result = evaluate(FakeAssistant(notes, {}, answers), qa_file(tmp_path, rows))
    faults = {p["question"]: p["citation_faults"] for p in result["per_question"]}
    assert faults["clean"] == []  # an escaped \[2\] is note text, not a marker
    assert len(faults["shifted"]) == 1 and faults["shifted"][0].startswith("[2] notes/a.md")
    assert faults["dangling"] == ["[3] has no citation"]
    assert (result["citation_faults"], result["answers_with_citation_faults"]) == (2, 2)


def test_an_offline_answer_cited_to_a_quote_that_does_not_say_it_is_a_citation_fault(tmp_path, notes):
    """The quote check passes a sentence cited to the wrong place when the offsets fit the text there (a PDF page's
    offsets count from each page): an offline answer is the notes' own sentences, so each quote must say its text.
    A link reads as its text; a generated answer, which rewords, is not held to it."""
    (notes / "notes" / "c.md").write_text("See [the paper](https://example.org/a-long-url) on needles.\n")
    linked = cite(2, "notes/c.md", "See [the paper](https://example.org/a-long-url) on needles.\n",
                  "See [the paper](https://example.org/a-long-url) on needles.")
    elsewhere = cite(1, "notes/a.md", NOTE_A, "Gamma delta.")
    rows = [{"question": q, "sources": ["notes/a.md"]} for q in ("wrong place", "linked", "generated")]
    offline = {"wrong place": answer("wrong place", "The needle is here. [1]", [elsewhere]),
               "linked": answer("linked", "See the paper on needles. [2]", [linked]),
               "generated": answer("generated", "Needles live here. [1]", [elsewhere])}
    for a in ("wrong place", "linked"):
        offline[a] = Answer(a, offline[a].answer, offline[a].citations, "extractive", True)
    result = evaluate(FakeAssistant(notes, {}, offline), qa_file(tmp_path, rows))
    faults = {p["question"]: p["citation_faults"] for p in result["per_question"]}
    assert faults == {"wrong place": ["[1] notes/a.md: the quote does not say the text cited to it"],
                      "linked": [], "generated": []}


def test_a_pdf_citation_is_checked_against_the_page_text_pypdf_gives(tmp_path):
    from pypdf import PdfReader

    from tests.make_pdfs import two_pages_pdf

    vault = write_vault(tmp_path / "v", {"books/b.pdf": two_pages_pdf()})
    page_two = PdfReader(vault / "books/b.pdf").pages[1].extract_text()
    quote = "Citations point at the page."
    right = Citation(n=1, source="books/b.pdf", title="b", heading="", page=2, chunk_id="c",
                     start=page_two.index(quote), end=page_two.index(quote) + len(quote), quote=quote)
    wrong_page = Citation(**{**right.to_json(), "n": 2, "page": 1})
    rows = [{"question": "q", "sources": ["books/b.pdf"]}]
    result = evaluate(FakeAssistant(vault, {}, {"q": answer("q", "It does [1][2].", [right, wrong_page])}),
                      qa_file(tmp_path, rows))
    fault = f"[2] books/b.pdf p. 1 [{right.start}:{right.end}] is not the quote"
    assert result["per_question"][0]["citation_faults"] == [fault]


def test_key_facts_are_case_blind_and_graded_on_answerable_rows_only(tmp_path, notes):
    rows = [{"question": "both", "sources": ["notes/a.md"], "answer_contains": ["needle", "GAMMA"]},
            {"question": "one", "sources": ["notes/a.md"], "answer_contains": ["needle", "delta"]},
            {"question": "no facts listed", "sources": ["notes/a.md"]},
            {"question": "out", "found": False}]
    answers = {q: answer(q, "The Needle and gamma.") for q in ("both", "one", "no facts listed", "out")}
    result = evaluate(FakeAssistant(notes, {}, answers), qa_file(tmp_path, rows))
    assert (result["answer_contains"], result["answer_contains_graded"]) == (0.5, 2)
    assert result["per_question"][1]["missing_facts"] == ["delta"]


def test_a_follow_up_replays_its_history_through_chat_and_is_searched_as_rewritten(tmp_path, notes):
    row = {"history": ["What is a needle?", ["Where is it?", "In a."]], "question": "and in b?",
           "sources": ["notes/b.md"], "evidence": ["needle"]}
    answers = {"and in b?": answer("and in b?", "In b.", standalone="Is there a needle in b?")}
    hits = {"Is there a needle in b?": [hit("notes/b.md", "needle of b", 1)]}
    fake = ChatAssistant(notes, hits, answers)
    result = evaluate(fake, qa_file(tmp_path, [row]), k=3)
    assert fake.chats == [([], "What is a needle?"),
                          ([("What is a needle?", "answer to What is a needle?"), ("Where is it?", "In a.")],
                           "and in b?")]
    assert result["per_question"][0]["query"] == "Is there a needle in b?"
    assert result["recall@3"] == 1.0


def test_filters_reach_search(tmp_path, notes):
    row = {"question": "q", "sources": ["notes/a.md"], "filters": {"folder": "notes", "tag": ["x", "y"]}}
    fake = FakeAssistant(notes, {}, {"q": answer("q")})
    evaluate(fake, qa_file(tmp_path, [row]))
    assert fake.searches[0][2] == Filters(tags=("x", "y"), folders=("notes",))


@pytest.mark.parametrize("line, says", [
    ("{not json", "is not JSON"),
    ('{"sources": ["notes/a.md"]}', "not a QA line"),
    ('{"question": "q", "sources": "notes/a.md"}', '"sources" must be a list'),
    ('{"question": "q", "found": false, "sources": ["notes/a.md"]}', "lists no sources"),
    ('{"question": "q", "filters": {"colour": "red"}}', '"filters"'),
])
def test_a_bad_line_names_file_and_line(tmp_path, line, says):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "fine"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"bad\.jsonl:3.*{says}"):
        load_qa(path)


def test_check_qa_finds_evidence_and_facts_that_are_not_in_the_sources(notes):
    rows = [{"question": "q", "sources": ["notes/a.md", "notes/c.md", "notes/gone.md"], "evidence": ["needle", "nope"],
             "answer_contains": ["zebra"]}]
    problems = check_qa(rows, notes)
    assert any("notes/gone.md unreadable" in p for p in problems)
    assert any("evidence 'nope'" in p for p in problems)
    assert any("notes/c.md holds none" in p for p in problems)
    assert any("key fact 'zebra'" in p for p in problems)


def test_check_qa_reads_a_pdf_as_its_pages_text(tmp_path):
    """A book's evidence is checked against pypdf's page text, as the index reads it; a broken PDF is named."""
    from tests import make_pdfs

    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "b.pdf").write_bytes(make_pdfs.text_pdf(["Page one.", "The answer is on page two."]))
    (tmp_path / "books" / "bad.pdf").write_bytes(make_pdfs.corrupt_pdf())
    good = {"question": "q", "sources": ["books/b.pdf"], "evidence": ["answer is on page two"]}
    assert check_qa([good], tmp_path) == []
    problems = check_qa([{**good, "evidence": ["not in the book"]}, {**good, "sources": ["books/bad.pdf"]}], tmp_path)
    assert any("evidence 'not in the book'" in p for p in problems)
    assert any("books/bad.pdf: not a readable PDF" in p for p in problems)


def test_the_sample_qa_files_keep_their_contract():
    seed, holdout = (load_qa(ROOT / "data" / "eval" / name) for name in ("seed_qa.jsonl", "seed_holdout.jsonl"))
    assert check_qa(seed + holdout, ROOT / "data") == []
    assert len(seed) >= 60 and sum(not r.get("found", True) for r in seed + holdout) >= 10
    assert any(r.get("history") for r in seed) and any(r.get("history") for r in holdout)
    in_scope = [r for r in seed + holdout if r.get("found", True)]
    assert 0.25 <= sum(r.get("found", True) for r in holdout) / len(in_scope) <= 0.4  # about a third held out
    assert not {r["question"] for r in seed} & {r["question"] for r in holdout}


@pytest.mark.parametrize("qa, vault", [("heldout_qa.jsonl", "turing-way"),
                                       ("python_markdown_qa.jsonl", "python-markdown"),
                                       ("factbook_qa.jsonl", "factbook-europe"), ("sotu_qa.jsonl", "sotu"),
                                       ("sotu2_qa.jsonl", "sotu2"), ("pymdown_qa.jsonl", "pymdown"),
                                       ("notes_by_lex_qa.jsonl", "notes-by-lex")])
def test_the_held_out_qa_files_keep_their_contract_with_their_vaults(qa, vault):
    """Each row's evidence and key facts are in its sources, and each set asks both kinds of question."""
    rows = load_qa(ROOT / "data" / "eval" / qa)
    assert check_qa(rows, ROOT / "data" / "eval" / "vaults" / vault) == []
    assert sum(r.get("found", True) for r in rows) >= 40 and sum(not r.get("found", True) for r in rows) >= 10


def test_the_book_pdf_qa_files_keep_their_contract_with_the_pdfs():
    """Evidence and key facts over real book PDFs are in the pages as pypdf extracts them (the two sets in one
    check: each of the four books, ~1,000 pages, is read once)."""
    rows = [r for qa in ("pdf_qa.jsonl", "pdf_qa2.jsonl") for r in load_qa(ROOT / "data" / "eval" / qa)]
    assert check_qa(rows, ROOT / "data" / "eval" / "vaults" / "book-pdfs") == []
    assert all(s.endswith(".pdf") for r in rows for s in r.get("sources") or [])
    assert sum(r.get("found", True) for r in rows) >= 100 and sum(not r.get("found", True) for r in rows) >= 25


def test_story_eval_on_the_indexed_sample_vault(assistant, tmp_path):
    assistant.index()
    rows = [{"question": "Who wrote the earliest AI program, and in what year?",
             "sources": ["notes/ai-engineering-chapter-1-concepts.md"], "evidence": ["first ai program"],
             "answer_contains": ["1951"], "found": True},
            {"question": "What is MMLU?", "sources": ["notes/ai-engineering-chapter-1-concepts.md"],
             "evidence": ["massive multitask language understanding"], "answer_contains": ["benchmark"], "found": True},
            {"question": "How do I bake sourdough bread?", "sources": [], "found": False}]
    result = evaluate(assistant, qa_file(tmp_path, rows), k=5)
    assert (result["questions"], result["answerable"], result["backend"], result["k"]) == (3, 2, "extractive", 5)
    assert result["recall@5"] == 1.0 and result["mrr@10"] > 0.5
    assert result["citation_faults"] == 0  # the extractive answerer's quotes are the vault's own text
    assert result["answered_out_of_scope"] == []
    assert json.loads(json.dumps(result)) == result
