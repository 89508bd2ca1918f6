"""The data that flows between layers (DESIGN.md). Plain dataclasses; nothing heavy imported."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["note", "pdf"]


@dataclass(frozen=True)
class Span:
    """A piece of a text with its exact offsets: text == source[start:end]."""

    start: int
    end: int
    text: str


@dataclass
class Section:
    """A run of body text under one heading; offsets index the raw text (or the PDF page text)."""

    heading: str  # breadcrumb "A > B", "" before the first heading
    start: int
    end: int
    page: int | None = None  # 1-based, PDFs only


@dataclass
class ParsedDocument:
    """One source file read and understood, before chunking."""

    source: str  # path relative to the vault root, POSIX separators
    kind: Kind
    title: str
    texts: dict[int | None, str]  # the text offsets refer to: {None: raw} for notes, {page: text} for PDFs
    sections: list[Section]
    metadata: dict[str, Any] = field(default_factory=dict)  # author, tags, frontmatter, encoding
    warnings: list[str] = field(default_factory=list)


@dataclass
class Chunk:
    """The unit that is embedded, retrieved and cited."""

    id: str  # hash of source + text + occurrence: stable across runs
    source: str
    kind: Kind
    title: str
    heading: str
    page: int | None
    start: int
    end: int
    text: str  # the display text: exactly source_text[start:end]
    embed_text: str = ""  # what the model sees: context header + cleaned text, fitted to its window
    metadata: dict[str, Any] = field(default_factory=dict)  # tags, author, frontmatter, highlights, sections

    def heading_at(self, pos: int) -> str:
        """The heading over a source offset: a chunk packed from small sections lists the later ones in
        metadata["sections"] as (heading line start, body start, heading), so a quote names its own section."""
        heading = self.heading
        for start, _, h in self.metadata.get("sections") or ():
            if start > pos:
                break
            heading = h
        return heading

    def in_heading(self, start: int) -> bool:
        """Whether a source offset falls on the heading lines of a section packed into this chunk."""
        return any(hs <= start < bs for hs, bs, _ in self.metadata.get("sections") or ())


@dataclass
class Hit:
    """A retrieved chunk."""

    chunk: Chunk
    rank: int
    score: float  # cosine similarity of the query and the chunk's vector
    lexical: float = 0.0  # its BM25 score, 0 when no query term occurs in it
    fused: float = 0.0  # the fused score (cosine and scaled BM25) the rank comes from

    def to_json(self) -> dict[str, Any]:
        c = self.chunk
        return {"rank": self.rank, "score": round(self.score, 4), "source": c.source, "kind": c.kind,
                "title": c.title, "heading": c.heading, "page": c.page, "start": c.start, "end": c.end,
                "text": c.text}


@dataclass
class Citation:
    """Where a claim in an answer comes from; quote == source_text[start:end]."""

    n: int
    source: str
    title: str
    heading: str
    page: int | None
    chunk_id: str
    start: int
    end: int
    quote: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    question: str
    answer: str  # with [n] markers; every marker has a citation
    citations: list[Citation]
    backend: str  # "extractive" or "openai"
    found: bool  # false when the notes do not hold the answer
    nearest: list[Hit] = field(default_factory=list)  # the closest passages, shown when found is false
    standalone: str = ""  # the question as retrieval saw it (a follow-up rewritten), "" when unchanged
    model: str = ""  # the LLM that wrote it, "" for the extractive answerer

    def to_json(self) -> dict[str, Any]:
        d = {"question": self.question, "answer": self.answer, "found": self.found,
             "backend": self.backend, "citations": [c.to_json() for c in self.citations],
             "nearest": [h.to_json() for h in self.nearest]}
        if self.standalone:
            d["standalone"] = self.standalone
        if self.model:
            d["model"] = self.model
        return d


@dataclass(frozen=True)
class Filters:
    """What a search is limited to (DESIGN: --filter KEY=VALUE, repeatable). Every key given must hold; within
    a key, tags must all be the note's (tag=a tag=b: both, as Obsidian's search reads it) while a folder, kind
    or source may be any of those given (a note lies in one folder and is one file: "all" would match nothing)."""

    tags: tuple[str, ...] = ()  # each must be one of the note's tags
    folders: tuple[str, ...] = ()  # the source lies under one of them (relative to the vault root)
    kinds: tuple[str, ...] = ()  # note | pdf
    sources: tuple[str, ...] = ()  # notes or books

    def __bool__(self) -> bool:
        return bool(self.tags or self.folders or self.kinds or self.sources)

    def matches(self, source: str, kind: str, tags: list[str] | tuple[str, ...]) -> bool:
        return (all(t in tags for t in self.tags)
                and (not self.folders or any(source.startswith(f.strip("/") + "/") for f in self.folders))
                and (not self.kinds or kind in self.kinds)
                and (not self.sources or source in self.sources))


@dataclass
class IndexReport:
    """What one `reread index` run did. Counts are files."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    renamed: int = 0
    unchanged: int = 0
    chunks: int = 0
    seconds: float = 0.0
    failed: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # e.g. "rebuilding: embedding model changed"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("messages")
        d["seconds"] = round(self.seconds, 3)
        return d
