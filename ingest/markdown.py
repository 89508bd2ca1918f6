"""Obsidian-flavoured markdown: front matter, headings as breadcrumbs, tags, highlights, embed cleanup.

Every offset refers to the raw text, so a chunk or quote is always raw[start:end].
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from pathlib import PurePosixPath
from typing import Any

from .spans import FENCE, closes
from .types import ParsedDocument, Section

PARSER_VERSION = 10  # in the index fingerprint: a parsing change re-chunks every note (10: %% comments hidden)
FRONT_OPEN = re.compile(r"\ufeff?---[ \t]*\r?\n")
FRONT_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$\n?", re.M)
HEADING = re.compile(r"^\ufeff? {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*\r?$", re.M)
SETEXT = re.compile(r"^(?![ \t]*(?:[-*+>#|<]|\d{1,3}[.)]|```|~~~))[ \t]{0,3}(\S[^\n]*?)[ \t]*\r?\n"
                    r" {0,3}(=+|-+)[ \t]*\r?$", re.M)
# a heading copied from a web page keeps its permalink mark: "Model Size#" or "Model Size¶" on a line of its own
PERMALINK = re.compile(r"^[ \t]{0,3}([A-Za-z0-9][^\n#¶.!?:;,]{0,80}?)[ \t]*[#¶][ \t]*\r?$", re.M)
INLINE_CODE = re.compile(r"`[^`\n]+`")
# inline math as Obsidian reads it (Pandoc's rule): "$" before a non-space, to a "$" after a non-space and before no
# digit, so "$5 and $10" is money; or "$$...$$" on one line. Its "_" and "*" are subscripts and products, not emphasis
INLINE_MATH = re.compile(r"\$\$[^$\n]+\$\$|(?<![\\$])\$(?=[^\s$])[^$\n]*?(?<=[^\s\\])\$(?![\d$])")
AS_WRITTEN = re.compile(f"{INLINE_CODE.pattern}|{INLINE_MATH.pattern}")  # read as written: inline code and math
# a heading's attribute list, Pandoc's "# Setup {#setup .unnumbered}" or kramdown's and Python-Markdown's
# "## Using Git {: #git }": an id for links, not words of the heading ("Sets {a, b}" and a format spec, "{:.2f}",
# keep their braces)
HEADING_ATTRS = re.compile(r"[ \t]*\{(?::?[ \t]*[#.][A-Za-z_][\w:-]*(?:[ \t]+[^{}\n]*)?|-)\}[ \t]*$")
TAG = re.compile(r"(?<![\w#/&=:.\-\[({])#([A-Za-z_][\w/-]*)")  # "{#top}" is an id, not a tag
HIGHLIGHT = re.compile(r"==(?=\S)(.+?)(?<=\S)==")
# HTML elements a note may hold; "<bos>", "<version>" or "<T>" are words the writer meant to show
HTML_TAGS = ("a|abbr|b|big|blockquote|br|center|cite|code|del|details|div|em|figcaption|figure|font|h[1-6]|hr|i|iframe"
             "|img|ins|kbd|li|mark|ol|p|pre|q|s|samp|script|small|source|span|strong|style|sub|summary|sup|table|tbody"
             "|td|th|thead|tr|u|ul|var|video|audio|picture|section|article|aside|nav|header|footer|object|embed|svg")
EMBED = re.compile(r"!\[\[[^\]\n]*\]\]|!\[[^\]\n]*\]\([^)\n]*\)"
                   rf"|</?(?:{HTML_TAGS})(?:\s(?:[^>\"'\n]|\"[^\"\n]*\"|'[^'\n]*')*)?/?>", re.I)
WIKILINK = re.compile(r"\[\[([^\]|\n]+?)(?:\|([^\]\n]+?))?\]\]")
MDLINK = re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)")
CALLOUT = re.compile(r"\[!([\w-]+)\][+-]?")
QUOTE_MARKS = re.compile(r"(?m)^[ \t]*(?:>[ \t]?)+")
SPACES = re.compile(r"[ \t]+")
EMPHASIS = re.compile(r"\*\*|__|(?<![\w*])[*_](?=\S)|(?<=\S)[*_](?![\w*])")


HYPHEN_BREAK = re.compile(r"(\w)-[ \t]*\n[ \t]*(\w)")  # a word a PDF page's line end split ("neces-" + "sarily")
# a typeset book's ligature glyphs, as pypdf extracts them ("ﬁnd"): one word to a reader, an unknown one to the
# model's vocabulary and to BM25 unless spelt out
LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
                           "\ufb05": "st", "\ufb06": "st"})
# an Obsidian block id ends its paragraph or list item ("... of the paper. ^key-claim"): a link target, hidden when
# the note is read, and a random word to the model and to BM25
BLOCK_ID = re.compile(r"(?:^|[ \t])\^[A-Za-z0-9-]+[ \t]*$", re.M)
CODE_MARK = "\ue000"  # stands for an inline code or math span while the text around it is cleaned
COMMENT_MARK = re.compile(r"%%")
COMMENT_OPEN = re.compile(r"^[ \t]*%%", re.M)  # found by line, not by looking back from each %%: a 10 MB line
COMMENT_CLOSE = re.compile(r"%%[ \t]*\r?$", re.M)  # holding thousands of them stays linear
# footnotes, as Obsidian and Pandoc write them: a reference ("... the Encoder-Decoder [^1] network") shows as a
# superscript and a definition's label ("[^1]: Cho, K., ...") as a number, neither a word; an inline footnote
# ("...^[a side remark]") shows its text
FOOTNOTE = re.compile(r"(?m)^[ \t]{0,3}\[\^[^\]\s]+\]:[ \t]*|[ \t]*\[\^[^\]\s]+\]")
INLINE_FOOTNOTE = re.compile(r"\^\[([^\[\]\n]+)\]")


def clean_inline(text: str) -> str:
    """What a reader sees: links as their text, highlights unmarked, images, HTML tags, footnote markers and block
    ids dropped; inline code as written (`<h3>`, `__init__`, `[[`: what the docs tell you to type, and the words a
    question uses for it), and inline math ("$c_{t-1}$" keeps its subscript)."""
    text = text.translate(LIGATURES)
    codes = AS_WRITTEN.findall(text) if "`" in text or "$" in text else []
    if codes:
        text = AS_WRITTEN.sub(CODE_MARK, text)
    # each pattern runs only where its marker occurs: the chunker cleans every sentence of a vault two or three
    # times, and most hold none of them
    if "!" in text or "<" in text:
        text = EMBED.sub(" ", text)
    if "[" in text:
        text = WIKILINK.sub(lambda m: m.group(2) or m.group(1).split("#")[0].split("/")[-1] or m.group(1), text)
        text = MDLINK.sub(r"\1", text)
        if "^" in text:
            text = INLINE_FOOTNOTE.sub(r" (\1)", FOOTNOTE.sub("", text))
    if "==" in text:
        text = HIGHLIGHT.sub(r"\1", text)
    if "[!" in text:
        text = CALLOUT.sub(lambda m: m.group(1).capitalize() + ":", text)
    if "*" in text or "_" in text:
        text = EMPHASIS.sub("", text)
    if ">" in text:
        text = QUOTE_MARKS.sub("", text)
    if "^" in text:
        text = BLOCK_ID.sub("", text)
    if codes:
        back = iter(codes)
        text = re.sub(CODE_MARK, lambda _: next(back, ""), text)
    return SPACES.sub(" ", text).strip()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def front_matter(raw: str) -> tuple[dict[str, Any], int, list[str]]:
    """(metadata, offset where the body starts, warnings). Broken YAML warns and keeps the body."""
    opening = FRONT_OPEN.match(raw)
    if not opening:
        return {}, 0, []
    closing = FRONT_CLOSE.search(raw, opening.end())
    if not closing:
        return {}, 0, ["front matter opens with --- but never closes; read the whole file as the body"]
    import yaml

    try:
        # libyaml's loader when present: the same values, 5x faster (40,000 keys: 5.7 s -> 1.1 s)
        data = yaml.load(raw[opening.end():closing.start()], Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        return {}, closing.end(), [f"broken front matter{where} ({getattr(e, 'problem', None) or 'invalid YAML'}); "
                                   "kept the body, fix the YAML to use its fields"]
    if data is None:
        return {}, closing.end(), []
    if not isinstance(data, dict):
        return {}, closing.end(), ["front matter is not a YAML mapping; kept the body"]
    return _jsonable(data), closing.end(), []


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [t for t in re.split(r"[,\s]+", value) if t]
    if isinstance(value, list):
        return [str(t) for t in value if t is not None]
    return [str(value)]


def _fenced_ranges(raw: str, start: int) -> list[tuple[int, int]]:
    ranges, pos, open_at, fence = [], start, None, ""
    for line in raw[start:].splitlines(keepends=True):
        stripped = line.strip()
        if open_at is None:
            m = FENCE.match(line)
            if m:
                open_at, fence = pos, m.group(1)
        elif closes(stripped, fence):
            ranges.append((open_at, pos + len(line)))
            open_at = None
        pos += len(line)
    if open_at is not None:
        ranges.append((open_at, len(raw)))
    return ranges


def _comment_ranges(raw: str, body: int, code: Ranges) -> list[tuple[int, int]]:
    """Obsidian's block comments: from a line opening with %% to the next %% that ends a line, whole lines. The
    reading view hides them, and plugins keep their data there (an Excalidraw drawing is kilobytes of compressed
    JSON inside one). A %% in code, or one left open, comments nothing out; one inside a line is left as written."""
    opens = {m.end() - 2: m.start() for m in COMMENT_OPEN.finditer(raw, body)}  # a %% opening its line: line start
    closes_at = {m.start(): m.end() for m in COMMENT_CLOSE.finditer(raw, body)}  # a %% ending its line: line end
    marks = [m.start() for m in COMMENT_MARK.finditer(raw, body) if not code.covers(m.start())]
    out, i = [], 0
    while i + 1 < len(marks):
        if marks[i] in opens and marks[i + 1] in closes_at:
            end = closes_at[marks[i + 1]]
            out.append((opens[marks[i]], end + 1 if raw.startswith("\n", end) else end))
            i += 2
        else:  # not a block comment's opening, or closed inside a line: read as written
            i += 1
    return out


def _outside(sections: list[Section], hidden: list[tuple[int, int]]) -> list[Section]:
    """The sections with the hidden spans taken out (a section a comment splits becomes two). Both are in order:
    one pass over each, so 3,000 headings and as many comments do not make 9 million checks."""
    out: list[Section] = []
    first = 0  # the first hidden span that does not end before this section
    for sec in sections:
        while first < len(hidden) and hidden[first][1] <= sec.start:
            first += 1
        pos, i = sec.start, first
        while i < len(hidden) and hidden[i][0] < sec.end:
            s, e = hidden[i]
            if s > pos:
                out.append(Section(sec.heading, pos, s))
            pos, i = max(pos, e), i + 1
        if pos < sec.end:
            out.append(Section(sec.heading, pos, sec.end))
    return out


class Ranges:
    """Half-open spans, merged and sorted, asked whether a position falls inside one: a bisection, so a note with
    100,000 inline code spans or headings is not checked span by span for each tag (that was quadratic)."""

    def __init__(self, spans: list[tuple[int, int]]):
        self.starts: list[int] = []
        self.ends: list[int] = []
        for s, e in sorted(spans):
            if e <= s:
                continue
            if self.ends and s <= self.ends[-1]:
                self.ends[-1] = max(self.ends[-1], e)
            else:
                self.starts.append(s)
                self.ends.append(e)

    def covers(self, pos: int) -> bool:
        i = bisect.bisect_right(self.starts, pos) - 1
        return i >= 0 and pos < self.ends[i]


def _heading_text(line: str) -> str:
    return clean_inline(HEADING_ATTRS.sub("", line))


def _headings(raw: str, body: int, code: Ranges) -> list[tuple[int, int, int, str]]:
    """(start, end of line, level, text) of ATX headings and of setext ones (a line over === or ---
    that opens a paragraph), outside code blocks."""
    found = [(m.start(), m.end(), len(m.group(1)), _heading_text(m.group(2) or ""))
             for m in HEADING.finditer(raw, body) if not code.covers(m.start())]
    # setext matches never overlap one another (nor do permalink ones), so each kind is checked against the
    # headings found before it only
    taken = Ranges([(s, e) for s, e, *_ in found])
    for m in SETEXT.finditer(raw, body):
        prev = raw.rfind("\n", body, max(body, m.start() - 1))
        opens_paragraph = m.start() == body or not raw[prev + 1 if prev >= 0 else body:m.start()].strip()
        if opens_paragraph and not code.covers(m.start()) and not taken.covers(m.start()):
            found.append((m.start(), m.end(), 1 if m.group(2)[0] == "=" else 2, _heading_text(m.group(1))))
    taken = Ranges([(s, e) for s, e, *_ in found])
    for m in PERMALINK.finditer(raw, body):
        before, after = raw[max(body, m.start() - 2):m.start()], raw[m.end():m.end() + 3]
        alone = (m.start() == body or before.endswith(("\n\n", "\n\r\n")) or before == "\n") and (
            after.lstrip(" \t\r").startswith("\n") or m.end() == len(raw))
        if alone and not code.covers(m.start()) and not taken.covers(m.start()):
            found.append((m.start(), m.end(), 2, clean_inline(m.group(1))))
    return sorted(found)


def _aliases(value: Any, title: str) -> list[str]:
    """Obsidian's other names for a note: a list, or one string of comma-separated names ("Doggo, Woofer")."""
    names = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
    out = [" ".join(str(n).split()) for n in names if n is not None and not isinstance(n, (dict, list))]
    return list(dict.fromkeys(n for n in out if n and n.lower() != title.lower()))


def parse_markdown(source: str, raw: str) -> ParsedDocument:
    meta, body, warnings = front_matter(raw)
    fenced = _fenced_ranges(raw, body)
    inline = [m.span() for m in AS_WRITTEN.finditer(raw, body)]
    comments = _comment_ranges(raw, body, Ranges(fenced + inline)) if "%%" in raw else []
    headings = _headings(raw, body, Ranges(fenced + comments))
    h1 = next((text for _, _, level, text in headings if level == 1), "")
    title = str(meta.get("title") or "").strip() or h1 or PurePosixPath(source).stem

    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    pos = body
    for start, end, level, text in headings:
        if start > pos:
            sections.append(Section(" > ".join(t for _, t in stack), pos, start))
        stack = [(lv, t) for lv, t in stack if lv < level]
        if text and not (level == 1 and text.lower() == title.lower() and not stack):
            stack.append((level, text))
        pos = end + 1 if end < len(raw) else end
    if pos < len(raw):
        sections.append(Section(" > ".join(t for _, t in stack), pos, len(raw)))
    if comments:
        sections = _outside(sections, comments)

    ids = [(s + m.start(), s + m.end()) for s, e, *_ in headings
           if (m := HEADING_ATTRS.search(raw[s:e].split("\n", 1)[0].rstrip("\r")))]  # "{: #git }": an id, not a tag
    code = Ranges(fenced + ids + inline + comments)  # `#include` is code, not a tag; a comment is hidden
    body_tags = [m.group(1) for m in TAG.finditer(raw, body) if not code.covers(m.start())]
    tags = list(dict.fromkeys(t.lstrip("#") for t in _as_list(meta.get("tags") or meta.get("tag")) + body_tags))
    metadata: dict[str, Any] = {"tags": tags, "frontmatter": meta}
    aliases = _aliases(meta.get("aliases") or meta.get("alias"), title)
    if aliases:
        metadata["aliases"] = aliases
    author = meta.get("author") or meta.get("authors")
    if author:
        metadata["author"] = ", ".join(_as_list(author)) if isinstance(author, list) else str(author)
    for key in ("type", "created", "date", "updated", "start_date"):
        if key in meta:
            metadata[key] = meta[key]
    metadata["highlight_spans"] = [m.span(1) for m in HIGHLIGHT.finditer(raw, body) if not code.covers(m.start())]
    return ParsedDocument(source=source, kind="note", title=title, texts={None: raw}, sections=sections,
                          metadata=metadata, warnings=warnings)
