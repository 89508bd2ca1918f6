"""Blocks and sentences with exact offsets: the units chunks and quotes are cut from."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .types import Span

LIST_MARKER = re.compile(r"[ \t]*(?:[-*+•‣◦▪]|\d{1,3}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?")
QUOTE_MARKER = re.compile(r"[ \t]*(?:>[ \t]?)+")
CALLOUT = re.compile(r"\[![\w-]+\][+-]?[ \t]*")
RULE = re.compile(r"[ \t]*([-*_=])(?:[ \t]*\1){2,}[ \t]*")
FENCE = re.compile(r"[ \t]{0,3}(```+|~~~+)")
BLOCK_START = re.compile(r"[ \t]*(?:[-*+•‣◦▪][ \t]|\d{1,3}[.)][ \t]|>|\||<|!\[|```|~~~)")
SENTENCE_END = re.compile(r"[.!?…](?:[\"'”’)\]*_=]*)(?=\s)|\n[ \t]*\n")
ABBREVIATIONS = {"e.g", "i.e", "etc", "vs", "cf", "mr", "mrs", "ms", "dr", "prof", "fig", "eq", "no", "vol",
                 "p", "pp", "ch", "approx", "al", "inc", "ltd", "jr", "sr", "st", "u.s"}


@dataclass(frozen=True)
class Unit(Span):
    """A sentence (or a whole code block, kept atomic) inside a section."""

    atomic: bool = False


def _lines(text: str, start: int, end: int):
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl == -1 else nl + 1
        yield pos, stop
        pos = stop


def blocks(text: str, start: int, end: int) -> list[tuple[int, int, bool]]:
    """Split text[start:end] into blocks (paragraphs, list items, quotes, code fences): (start, end, is_code)."""
    out: list[tuple[int, int, bool]] = []
    cur: list[int] | None = None
    fence: str | None = None
    for ls, le in _lines(text, start, end):
        line = text[ls:le].rstrip("\r\n")
        if fence is not None:
            cur[1] = le  # type: ignore[index]
            if line.strip().startswith(fence):
                out.append((cur[0], cur[1], True))  # type: ignore[index]
                cur, fence = None, None
            continue
        m = FENCE.match(line)
        if m:
            if cur:
                out.append((cur[0], cur[1], False))
            cur, fence = [ls, le], m.group(1)[:3]
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
        return not text[text.rfind("\n", 0, at) + 1:at].strip(" \t>")
    return w in ABBREVIATIONS or (len(w) == 1 and w.isalpha())


def sentences(text: str, start: int, end: int) -> list[Span]:
    """Sentences of a prose block, each trimmed; text[s.start:s.end] == s.text always."""
    out: list[Span] = []
    pos = start
    for m in SENTENCE_END.finditer(text, start, end):
        if m.group(0)[0] == "." and _is_abbreviation(text, m.start()):
            continue
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
