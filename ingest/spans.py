"""Blocks and sentences with exact offsets: the units chunks and quotes are cut from."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .types import Span

LIST_MARKER = re.compile(r"[ \t]*(?:[-*+•‣◦▪]|\d{1,3}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?")
QUOTE_MARKER = re.compile(r"[ \t]*(?:>[ \t]?)+")
CALLOUT = re.compile(r"\[![\w-]+\][+-]?[ \t]*")
RULE = re.compile(r"[ \t]*([-*_=])(?:[ \t]*\1){2,}[ \t]*")
TABLE_DELIMITER = re.compile(r"[ \t]*\|?(?:[ \t]*:?-+:?[ \t]*\|)+(?:[ \t]*:?-+:?[ \t]*)?")  # |---|:-:| or --- | ---
FENCE = re.compile(r"[ \t]{0,3}(```+|~~~+)")
HEADING = re.compile(r"[ \t]{0,3}#{1,6}[ \t]+\S")  # an ATX heading line: inside a chunk packed from several sections
BLOCK_START = re.compile(r"[ \t]*(?:[-*+•‣◦▪][ \t]|\d{1,3}[.)][ \t]|>|\||<|!\[|```|~~~)")
SENTENCE_END = re.compile(r"[.!?…](?:[\"'”’)\]*_=]*)(?=\s)|\n[ \t]*\n")
CAPTION = re.compile(r"[ \t>*_]*(?:figure|fig\.?|table|listing|algorithm)[ \t]+", re.I)
QUOTES = "\"'”’"
# every character a line holding only a caption's label or quote markers can have (re.I lets İ ı ſ match i and s)
LABEL_CHARS = frozenset(" \t>*_." + "figuretablelistingalgorithm" + "FIGURETABLELISTINGALGORITHM" + "İıſ")
ABBREVIATIONS = {"e.g", "i.e", "etc", "vs", "cf", "mr", "mrs", "ms", "dr", "prof", "fig", "eq", "no", "vol",
                 "p", "pp", "ch", "approx", "al", "inc", "ltd", "jr", "sr", "st", "u.s"}


@dataclass(frozen=True)
class Unit(Span):
    """A sentence (or a whole code block or table row, kept atomic: never cut inside) inside a section."""

    atomic: bool = False


@dataclass(frozen=True)
class Block(Span):
    """A paragraph, list item, quote (a callout with its body), fenced code block or table, and its units."""

    kind: str = "text"  # text | item | quote | code | table | heading
    units: tuple[Unit, ...] = ()
    callout: bool = False  # a quote opening with "[!type] Title": the title line belongs to the lines after it


def _lines(text: str, start: int, end: int):
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl == -1 else nl + 1
        yield pos, stop
        pos = stop


def closes(line: str, fence: str) -> bool:
    """A closing fence: the opening's character, at least as many of them, nothing after (CommonMark), so the
    ```` fence around a ```python example is not closed by the example's own fences."""
    run = line.strip()
    return len(run) >= len(fence) and run == fence[0] * len(run)


def blocks(text: str, start: int, end: int) -> list[tuple[int, int, bool]]:
    """Split text[start:end] into blocks (paragraphs, list items, quotes, code fences): (start, end, is_code)."""
    out: list[tuple[int, int, bool]] = []
    cur: list[int] | None = None
    fence: str | None = None
    for ls, le in _lines(text, start, end):
        line = text[ls:le].rstrip("\r\n")
        if fence is not None:
            cur[1] = le  # type: ignore[index]
            if closes(line, fence):
                out.append((cur[0], cur[1], True))  # type: ignore[index]
                cur, fence = None, None
            continue
        m = FENCE.match(line)
        if m:
            if cur:
                out.append((cur[0], cur[1], False))
            cur, fence = [ls, le], m.group(1)
            continue
        if not line.strip() or RULE.fullmatch(line):
            if cur:
                out.append((cur[0], cur[1], False))
            cur = None
            continue
        if HEADING.match(line):  # a line of its own, never part of a paragraph
            if cur:
                out.append((cur[0], cur[1], False))
            out.append((ls, le, False))
            cur = None
            continue
        if cur is None or BLOCK_START.match(line):
            if cur:
                out.append((cur[0], cur[1], False))
            cur = [ls, le]
        else:
            cur[1] = le
    if cur:
        out.append((cur[0], cur[1], fence is not None))
    return out


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop surrounding whitespace and leading list/quote/callout markers from a span."""
    while True:
        before = start
        while start < end and (text[start].isspace() or text[start] == "\ufeff"):
            start += 1
        for pat in (QUOTE_MARKER, LIST_MARKER, CALLOUT):
            m = pat.match(text, start, end)
            if m and m.end() > start:
                start = m.end()
        if start == before:
            break
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word = re.search(r"([\w.]+)$", text[max(0, dot - 12):dot])
    if not word:
        return False
    w = word.group(1).lower()
    if w.replace(".", "").isdigit():  # "1." opening a list item is a marker; "in 2024." ends a sentence
        at = max(0, dot - 12) + word.start(1)
        # what is before the number on its line: only a label's characters can make it a marker or a caption, so
        # the look back stops at the first other one (on a 10 MB line, going back to the line start was quadratic)
        line_start = at
        while line_start > 0 and text[line_start - 1] in LABEL_CHARS:
            line_start -= 1
        if line_start > 0 and text[line_start - 1] != "\n":
            return False
        line = text[line_start:at]
        # "Figure 6. Left: ..." opening a line is a caption's label
        return bool(CAPTION.fullmatch(line)) or not line.strip(" \t>")
    return w in ABBREVIATIONS or (len(w) == 1 and w.isalpha())


def sentences(text: str, start: int, end: int) -> list[Span]:
    """Sentences of a prose block, each trimmed; text[s.start:s.end] == s.text always."""
    out: list[Span] = []
    pos = start
    for m in SENTENCE_END.finditer(text, start, end):
        if m.group(0)[0] == "." and _is_abbreviation(text, m.start()):
            continue
        if m.group(0)[1:2] in QUOTES and re.match(r"\s+[a-z]", text[m.end():m.end() + 2]):
            continue  # 'the sentence “I love street food.” gives six ...': a quoted sentence inside another
        s, e = _trim(text, pos, m.end())
        if e > s and any(ch.isalnum() for ch in text[s:e]):
            out.append(Span(s, e, text[s:e]))
        pos = m.end()
    s, e = _trim(text, pos, end)
    if e > s and any(ch.isalnum() for ch in text[s:e]):
        out.append(Span(s, e, text[s:e]))
    return out


def units(text: str, start: int, end: int) -> list[Unit]:
    """All units of a section: sentences of prose blocks, code blocks whole."""
    out: list[Unit] = []
    for bs, be, code in blocks(text, start, end):
        if code:
            s, e = bs, be
            while e > s and text[e - 1] in "\r\n":
                e -= 1
            out.append(Unit(s, e, text[s:e], atomic=True))
        else:
            out.extend(Unit(sp.start, sp.end, sp.text) for sp in sentences(text, bs, be))
    return out


def _table_end(text: str, start: int, end: int) -> int:
    """Where a pipe table opening at start ends (a header row, a delimiter row, then rows), or start if none."""
    lines = _lines(text, start, end)
    first, second = next(lines, None), next(lines, None)
    if second is None or "|" not in text[first[0]:first[1]]:  # type: ignore[index]
        return start
    if not TABLE_DELIMITER.fullmatch(text[second[0]:second[1]].rstrip("\r\n")):
        return start
    stop = second[1]
    for ls, le in lines:
        row = text[ls:le]
        if not row.strip() or "|" not in row:
            break
        stop = le
    return stop


def _row(text: str, start: int, end: int) -> Unit | None:
    s, e = start, end
    while s < e and text[s] in " \t\ufeff":
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return Unit(s, e, text[s:e], atomic=True) if e > s else None


def _table(text: str, start: int, end: int) -> Block:
    """Header and delimiter rows are one unit (a chunk never opens on the delimiter); then one unit per row."""
    lines = list(_lines(text, start, end))
    rows = [_row(text, lines[0][0], lines[1][1])] + [_row(text, ls, le) for ls, le in lines[2:]]
    units = tuple(r for r in rows if r is not None)
    return Block(units[0].start, units[-1].end, text[units[0].start:units[-1].end], kind="table", units=units)


def _prose(text: str, start: int, end: int) -> Block | None:
    quote = QUOTE_MARKER.match(text, start, end)
    kind = "quote" if quote else "item" if LIST_MARKER.match(text, start, end) else \
        "heading" if HEADING.match(text, start, end) else "text"
    found = tuple(Unit(sp.start, sp.end, sp.text) for sp in sentences(text, start, end))
    if not found:
        return None
    callout = quote is not None and bool(CALLOUT.match(text, quote.end(), end))
    return Block(found[0].start, found[-1].end, text[found[0].start:found[-1].end], kind=kind, units=found,
                 callout=callout)


def _joins_quote(text: str, prev_end: int, start: int) -> bool:
    """Quote lines with nothing but quote lines between them are one quote (a callout and its body)."""
    between = text[prev_end:start].split("\n")[1:]  # the rest of the quote's last line is not a line between
    return all(ln.strip() and QUOTE_MARKER.match(ln) for ln in between)


def layout(text: str, start: int, end: int) -> list[Block]:
    """The blocks of text[start:end] in order: what the chunker packs. Tables are found here; blocks() has
    no notion of them (each row is its own block there)."""
    out: list[Block] = []
    # a quote still taking lines (start, end, callout, units): made a Block once, when it ends; joining line by line
    # into new Blocks copied the quote each time (a 10 MB quote was quadratic)
    quote: tuple[int, int, bool, list[Unit]] | None = None

    def close_quote() -> None:
        nonlocal quote
        if quote is not None:
            qs, qe, callout, found = quote
            out.append(Block(qs, qe, text[qs:qe], kind="quote", units=tuple(found), callout=callout))
            quote = None

    pending = blocks(text, start, end)[::-1]  # a stack, the next block on top: a table's rest goes back on top
    while pending:
        bs, be, code = pending.pop()
        if code:
            while be > bs and text[be - 1] in "\r\n":
                be -= 1
            close_quote()
            out.append(Block(bs, be, text[bs:be], kind="code", units=(Unit(bs, be, text[bs:be], atomic=True),)))
            continue
        stop = _table_end(text, bs, end)
        if stop > bs:
            close_quote()
            out.append(_table(text, bs, stop))
            while pending and pending[-1][1] <= stop:
                pending.pop()
            if pending and pending[-1][0] < stop:  # a paragraph that runs on past the table's last row
                pending[-1] = (stop, pending[-1][1], pending[-1][2])
            if be > stop and (not pending or pending[-1][0] >= be):
                pending.append((stop, be, False))
            continue
        block = _prose(text, bs, be)
        if block is None:
            continue
        if block.kind == "quote" and quote is not None and _joins_quote(text, quote[1], block.start):
            quote[3].extend(block.units)
            quote = (quote[0], block.end, quote[2], quote[3])
            continue
        close_quote()
        if block.kind == "quote":
            quote = (block.start, block.end, block.callout, list(block.units))
        else:
            out.append(block)
    close_quote()
    return out
