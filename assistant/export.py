"""Cited answers as markdown notes that fit back into the vault (DESIGN "Export"), and writing them safely."""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import quote as url_quote

import yaml

from ingest.errors import RereadError
from ingest.spans import FENCE, closes
from ingest.types import Answer, Hit

from .citations import INLINE_CODE, MARKER, MARKER_GROUP

Links = Literal["wikilink", "relative"]
LINK_STYLES: tuple[str, ...] = ("wikilink", "relative")
DEFAULT_FOLDER = "reread-answers"  # Settings.export_folder: the indexer skips it unless REREAD_INDEX_EXPORTS
NEAREST_CHARS = 200
NOT_FOUND_LEAD = "The closest passages in your notes:"
WIKI_UNSAFE = re.compile(r"[\[\]|#^]")  # characters a wikilink target cannot hold
FOOTNOTE_MARK = re.compile(r"(?<!\\)(?:\[(?=\^)|(?<=\^)\[)")  # the "[" of a "[^1]" or of an inline "^[...]"


class ExportError(RereadError):
    """The export cannot be written where the user asked."""


def answer_markdown(answer: Answer, *, asked_at: dt.datetime, model: str | None = None, links: Links = "wikilink",
                    vault_root: Path | None = None, export_dir: Path | None = None) -> str:
    """One answer as a note: front matter, the question as a heading, the answer with footnotes, their quotes.
    export_dir is the folder the file will be written to (relative links are relative to it)."""
    front = _front_matter(answer.question, asked_at, [answer], model)
    return front + _turn(answer, 0, _Linker(links, vault_root, export_dir))


def conversation_markdown(turns: Sequence[Answer], *, asked_at: dt.datetime, model: str | None = None,
                          links: Links = "wikilink", vault_root: Path | None = None,
                          export_dir: Path | None = None) -> str:
    """A whole conversation: one front matter, then the turns in order, each formatted as answer_markdown does.
    Footnotes are numbered on through the file so two turns' [1] stay two footnotes."""
    if not turns:
        raise ValueError("a conversation export needs at least one turn")
    if len(turns) == 1:
        return answer_markdown(turns[0], asked_at=asked_at, model=model, links=links, vault_root=vault_root,
                               export_dir=export_dir)
    linker = _Linker(links, vault_root, export_dir)
    parts, offset = [], 0
    for a in turns:
        parts.append(_turn(a, offset, linker))
        offset += max((c.n for c in a.citations), default=0)
    extra = {"questions": [a.question for a in turns]}
    return _front_matter(turns[0].question, asked_at, turns, model, extra) + "\n".join(parts)


def _front_matter(question: str, asked_at: dt.datetime, turns: Sequence[Answer], model: str | None,
                  extra: dict | None = None) -> str:
    backends = list(dict.fromkeys(a.backend for a in turns))
    models = [m for m in dict.fromkeys(a.model for a in turns) if m]
    data = {"question": question, **(extra or {}),
            "asked_at": asked_at.isoformat(timespec="seconds"),  # a string: Obsidian and YAML both read ISO
            "backend": backends[0] if len(backends) == 1 else backends,
            "model": model or (models[0] if len(models) == 1 else models or None),
            "sources": list(dict.fromkeys(c.source for a in turns for c in a.citations)),
            "tags": ["reread"]}
    return "---\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000) + "---\n\n"


def _turn(a: Answer, offset: int, linker: _Linker) -> str:
    """The question as a heading, the answer with footnote markers, then the footnotes (or the nearest passages)."""
    heading = literal_footnotes(" ".join(a.question.split())) or "(empty question)"
    out = [f"## {heading}", "", footnoted(literal_footnotes(a.answer), {c.n for c in a.citations}, offset).strip(), ""]
    if not a.found and a.nearest:
        out += [NOT_FOUND_LEAD, ""] + [nearest_item(h, linker) for h in a.nearest] + [""]
    for c in a.citations:
        out += [f"[^{c.n + offset}]: {linker.link(c.source, c.title, c.heading, c.page)}", "",
                block_quote(literal_footnotes(c.quote), indent="    "), ""]
    return "\n".join(out)


def literal_footnotes(text: str) -> str:
    """A note's own footnotes shown as written: in the export a quoted "[^1]" would point at the export's footnote
    1, and a quoted "[^1]: ..." would define it, so a citation would show what its passage never said. Code and
    math are left alone: a backslash there would show."""
    if "^" not in text:
        return text
    out, fence = [], ""
    for line in text.split("\n"):
        if fence or (m := FENCE.match(line)):
            fence = ("" if closes(line, fence) else fence) if fence else m.group(1)
            out.append(line)
            continue
        parts = INLINE_CODE.split(line)  # odd parts are code or math
        out.append("".join(x if i % 2 else FOOTNOTE_MARK.sub(r"\\[", x) for i, x in enumerate(parts)))
    return "\n".join(out)


def footnoted(text: str, cited: set[int], offset: int = 0) -> str:
    """[1] -> [^1] and [1, 2] -> [^1][^2] for markers that have a citation; a stray [n] is escaped to \\[n\\],
    and an escaped \\[12\\] from a note stays as it is, so neither becomes a footnote."""
    def one(n: int) -> str:
        return f"[^{n + offset}]" if n in cited else f"\\[{n}\\]"

    def group(m: re.Match) -> str:
        ns = [int(x) for x in m.group(1).split(",")]
        return "".join(one(n) for n in ns) if all(n in cited for n in ns) else "\\" + m.group(0)[:-1] + "\\]"

    text = MARKER_GROUP.sub(group, text)
    return MARKER.sub(lambda m: one(int(m.group(1))), text)


def block_quote(text: str, indent: str = "") -> str:
    """The quote exactly, each line behind "> " (an empty line keeps a bare ">" so the quote stays one block)."""
    return "\n".join(f"{indent}> {line}" if line else f"{indent}>" for line in text.split("\n"))


def nearest_item(h: Hit, linker: _Linker) -> str:
    """A refusal's closest passage as a list item: the link and the start of its text on one line."""
    c = h.chunk
    snippet = literal_footnotes(" ".join(c.text.split()))
    if len(snippet) > NEAREST_CHARS:
        snippet = snippet[:NEAREST_CHARS].rsplit(" ", 1)[0] + "…"
    return f"- {linker.link(c.source, c.title, c.heading, c.page)}: {snippet}"


class _Linker:
    """Links back to a note heading or a PDF page, as wikilinks or as plain relative markdown links."""

    def __init__(self, style: Links, vault_root: Path | None, export_dir: Path | None):
        if style not in LINK_STYLES:
            raise ValueError(f"links must be one of {', '.join(LINK_STYLES)}, not {style!r}")
        self.style, self.vault_root, self.export_dir = style, vault_root, export_dir

    def link(self, source: str, title: str, heading: str, page: int | None) -> str:
        last = heading.rsplit(" > ", 1)[-1].strip() if heading else ""
        if self.style == "wikilink":
            return wikilink(source, last, page)
        return markdown_link(self._relative(source), title or source, last, page)

    def _relative(self, source: str) -> str:
        if self.vault_root is None or self.export_dir is None:
            return source  # relative to the vault root, the best we know
        target = Path(os.path.abspath(Path(self.vault_root) / source))
        return Path(os.path.relpath(target, os.path.abspath(self.export_dir))).as_posix()


def wikilink(source: str, heading: str = "", page: int | None = None) -> str:
    """[[notes/x#Heading]] for a note (no .md, as Obsidian writes them), [[book.pdf#page=N]] for a PDF page."""
    if page is not None:
        return f"[[{source}#page={page}]]"
    target = re.sub(r"\.(md|markdown)$", "", source, flags=re.I)
    heading = " ".join(WIKI_UNSAFE.sub(" ", heading).split())
    return f"[[{target}#{heading}]]" if heading else f"[[{target}]]"


def markdown_link(path: str, title: str, heading: str = "", page: int | None = None) -> str:
    """[title](path#anchor) with the path percent-encoded, so spaces and parentheses do not break the link."""
    label = escape_label(title + (f", p. {page}" if page is not None else "") + (f" > {heading}" if heading else ""))
    anchor = f"#page={page}" if page is not None else (f"#{heading_anchor(heading)}" if heading else "")
    return f"[{label}]({url_quote(path, safe='/')}{anchor})"


def heading_anchor(heading: str) -> str:
    """The anchor GitHub and most editors give a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return url_quote(kept.replace(" ", "-"), safe="-_")


def escape_label(text: str) -> str:
    return re.sub(r"([\[\]\\])", r"\\\1", " ".join(text.split()))


def slug(question: str, limit: int = 60) -> str:
    """A file-name-safe slug: "What is tokenization?" -> "what-is-tokenization"; letters of any script kept."""
    s = re.sub(r"[\W_]+", "-", question.lower()).strip("-")
    if len(s) > limit:
        s = s[:limit].rsplit("-", 1)[0] if "-" in s[:limit] else s[:limit]
    return s or "answer"


def check_target(file: Path | None = None, directory: Path | None = None) -> None:
    """Fail before answering if the export cannot be written: the folder (or its nearest existing parent)
    must be a writable folder, and FILE must not be a folder. Creates nothing."""
    if (file is None) == (directory is None):
        raise ValueError("give exactly one of file or directory")
    if file is not None and file.is_dir():
        raise ExportError(f"cannot export to {file}: it is a folder; use --export-dir {file} instead")
    folder = Path(os.path.abspath(file.parent if file is not None else directory))
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise ExportError(f"cannot export to {folder}: {existing} is not a folder; choose another export path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ExportError(f"cannot export to {folder}: {existing} is not writable; choose another export path")


def write_export(markdown: str, file: Path | None = None, directory: Path | None = None, *, question: str = "",
                 now: dt.datetime | None = None) -> Path:
    """Write the export atomically (a temp file renamed into place: a failure leaves no partial file).
    file: written there, replacing it. directory: named <date>-<slug>.md, with -2, -3... rather than overwriting."""
    if (file is None) == (directory is None):
        raise ValueError("give exactly one of file or directory")
    folder = Path(file.parent if file is not None else directory)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".reread-export-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(markdown)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; an export is an ordinary note
        if file is not None:
            os.replace(tmp, file)
            return file
        return _place_new(Path(tmp), folder, f"{(now or dt.datetime.now()):%Y-%m-%d}-{slug(question)}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _place_new(tmp: Path, folder: Path, stem: str) -> Path:
    """Move tmp to folder/stem.md, or stem-2.md, stem-3.md...: the first name that does not exist.
    A hard link fails if the name exists, so two writers racing cannot overwrite each other."""
    for i in range(1, 10_000):
        target = folder / (f"{stem}.md" if i == 1 else f"{stem}-{i}.md")
        try:
            os.link(tmp, target)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: check, then rename
            if target.exists():
                continue
            os.replace(tmp, target)
        return target
    raise ExportError(f"too many exports named {stem} in {folder}; choose another --export-dir")
