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
BLOCK_START = re.compile(r"[ \t]*(?:[-*+•‣◦▪][ \t]|\d{1,3}[.)][ \t]|>|\||<|!\[|```|~~~)")
SENTENCE_END = re.compile(r"[.!?…](?:[\"'”’)\]*_=]*)(?=\s)|\n[ \t]*\n")
CAPTION = re.compile(r"[ \t>*_]*(?:figure|fig\.?|table|listing|algorithm)[ \t]+", re.I)
QUOTES = "\"'”’"
ABBREVIATIONS = {"e.g", "i.e", "etc", "vs", "cf", "mr", "mrs", "ms", "dr", "prof", "fig", "eq", "no", "vol",
                 "p", "pp", "ch", "approx", "al", "inc", "ltd", "jr", "sr", "st", "u.s"}


@dataclass(frozen=True)
class Unit(Span):
    """A sentence (or a whole code block or table row, kept atomic: never cut inside) inside a section."""

    atomic: bool = False


@dataclass(frozen=True)
class Block(Span):
    """A paragraph, list item, quote (a callout with its body), fenced code block or table, and its units."""

    kind: str = "text"  # text | item | quote | code | table
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
        line = text[text.rfind("\n", 0, at) + 1:at]
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
    kind = "quote" if quote else "item" if LIST_MARKER.match(text, start, end) else "text"
    found = tuple(Unit(sp.start, sp.end, sp.text) for sp in sentences(text, start, end))
    if not found:
        return None
    callout = quote is not None and bool(CALLOUT.match(text, quote.end(), end))
    return Block(found[0].start, found[-1].end, text[found[0].start:found[-1].end], kind=kind, units=found,
                 callout=callout)


def _joins_quote(text: str, prev: Block, start: int) -> bool:
    """Quote lines with nothing but quote lines between them are one quote (a callout and its body)."""
    between = text[prev.end:start].split("\n")[1:]  # the rest of prev's last line is not a line between
    return prev.kind == "quote" and all(ln.strip() and QUOTE_MARKER.match(ln) for ln in between)


def layout(text: str, start: int, end: int) -> list[Block]:
    """The blocks of text[start:end] in order: what the chunker packs. Tables are found here; blocks() has
    no notion of them (each row is its own block there)."""
    out: list[Block] = []
    pending = [(bs, be, code) for bs, be, code in blocks(text, start, end)]
    i = 0
    while i < len(pending):
        bs, be, code = pending[i]
        i += 1
        if code:
            while be > bs and text[be - 1] in "\r\n":
                be -= 1
            out.append(Block(bs, be, text[bs:be], kind="code", units=(Unit(bs, be, text[bs:be], atomic=True),)))
            continue
        stop = _table_end(text, bs, end)
        if stop > bs:
            out.append(_table(text, bs, stop))
            while i < len(pending) and pending[i][1] <= stop:
                i += 1
            if i < len(pending) and pending[i][0] < stop:  # a paragraph that runs on past the table's last row
                pending[i] = (stop, pending[i][1], pending[i][2])
            if be > stop and (i == len(pending) or pending[i][0] >= be):
                pending.insert(i, (stop, be, False))
            continue
        block = _prose(text, bs, be)
        if block is None:
            continue
        if out and block.kind == "quote" and _joins_quote(text, out[-1], block.start):
            prev = out.pop()
            block = Block(prev.start, block.end, text[prev.start:block.end], kind="quote",
                          units=prev.units + block.units, callout=prev.callout)
        out.append(block)
    return out
