"""A note passage as readable HTML: escaped first, then a small safe subset of markdown, cited spans in <mark>.

Note text is data. It is escaped before anything else, so the only tags in the output are the ones made
here (from a fixed list, without attributes taken from the note). The markdown subset is shown as styles:
bold, italic, ==highlight==, strikethrough, `code`, [[wikilink]] and [text](url) as their text (no link
is followed), embeds and images as a small "embed: x" label, headings as bold lines, list bullets as •.
Styles wrap single runs of text, and <mark> opens and closes between runs, so the HTML always nests.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

OPEN, CLOSE = "\ue000", "\ue001"  # where a cited span starts and ends, until they become <mark> and </mark>
SENTINELS = re.compile("[\ue000\ue001]")
_NOT_OURS = re.compile("[\ue000-\ue0ff]")  # private-use characters in the note: kept out of our way

STYLE_TAGS = {  # style -> (open, close); the order here is the nesting order
    "b": ("<strong>", "</strong>"),
    "i": ("<em>", "</em>"),
    "s": ("<s>", "</s>"),
    "hl": ('<span class="reread-hl">', "</span>"),
    "code": ("<code>", "</code>"),
    "link": ('<span class="reread-link">', "</span>"),
    "embed": ('<span class="reread-embed">', "</span>"),
    "muted": ('<span class="reread-muted">', "</span>"),
    "quote": ('<span class="reread-quote">', "</span>"),
}
CSS = """<style>
.reread-passage { white-space: pre-wrap; tab-size: 4; line-height: 1.55; overflow-wrap: anywhere; }
.reread-passage mark { background: #ffe36e; color: inherit; padding: 0 1px; border-radius: 2px; }
.reread-passage .reread-hl { border-bottom: 2px solid rgba(230, 180, 0, .55); }
.reread-passage .reread-link { color: #3b6fb6; }
.reread-passage .reread-embed { font-size: .8em; color: #666; border: 1px solid #ccc; border-radius: 3px;
  padding: 0 4px; }
.reread-passage .reread-muted { color: #888; }
.reread-passage .reread-quote { color: #555; }
.reread-passage .reread-rule { display: inline-block; width: 100%; border-top: 1px solid #ddd; }
.reread-passage sup.reread-n { color: #888; font-size: .7em; margin-right: 1px; }
.reread-passage code { font-size: .9em; }
</style>"""

# pieces shown whole, nothing parsed inside: \* (escaped), `code`, ![[embed]], [[link]], ![image](x), [text](x)
ATOM = re.compile(r"\\(?P<esc>[\\`*_{}\[\]()#+\-.!|~=])"
                  r"|(?P<code>`[^`\n]+`)"
                  r"|!\[\[(?P<embed>[^\]\n]+?)\]\]"
                  r"|\[\[(?P<wiki>[^\]\n]+?)\]\]"
                  r"|!\[(?P<alt>[^\]\n]*)\]\((?P<src>[^)\n]*)\)"
                  r"|\[(?P<text>[^\]\n]+)\]\((?P<href>[^)\n]*)\)")
TOGGLE = re.compile(r"\*\*|__|==|~~|\*|_")
TOGGLE_STYLE = {"**": "b", "__": "b", "*": "i", "_": "i", "==": "hl", "~~": "s"}
HEADING = re.compile(r"(#{1,6})\s+(.*)")
BULLET = re.compile(r"([-*+])\s+(?:\[(?P<task>[ xX])\]\s+)?(.*)")
QUOTE = re.compile(r"((?:&gt;\s?)+)(.*)")
CALLOUT = re.compile(r"\[!(?P<kind>[\w-]+)\][+-]?\s*(?P<title>.*)")
RULE = re.compile(r"(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,}")
FENCE = re.compile(r"(```|~~~)")
# a PDF line broken mid-sentence (pypdf keeps the page's line ends): joined with a space, same length
PDF_LINE_BREAK = re.compile(r"(?<=[^\s.!?:])\n(?=[a-z(\"'“‘])")


@dataclass(frozen=True)
class Run:
    """A piece of escaped text shown in one set of styles; it may hold span sentinels."""

    text: str
    styles: tuple[str, ...] = ()


def render(text: str, spans: Sequence[tuple[int, int, str]] = (), markdown: bool = True) -> str:
    """text as HTML, each (start, end, label) span of it in <mark> (overlapping spans are merged, their labels
    joined) with the label as a small superscript before it. markdown=False (a PDF's text): lines reflowed,
    nothing else read into it."""
    text = _NOT_OURS.sub("\ufffd", text)  # same length: the offsets still hold
    if not markdown:
        text = PDF_LINE_BREAK.sub(" ", text)
    merged = merge(spans, len(text))
    for start, end, _ in reversed(merged):
        text = text[:start] + OPEN + text[start:end] + CLOSE + text[end:]
    escaped = html.escape(text, quote=True).split("\n")
    if markdown:
        lines = [line_runs(line, fenced) for line, fenced in _fenced(escaped)]
    else:
        lines = [[Run(line)] for line in escaped]
    body = emit(lines, [label for _, _, label in merged])
    return f'{CSS}<div class="reread-passage">{body}</div>'


def merge(spans: Sequence[tuple[int, int, str]], length: int) -> list[tuple[int, int, str]]:
    """Spans clipped to the text, sorted, overlapping ones joined (labels in order, without repeats)."""
    out: list[tuple[int, int, list[str]]] = []
    for start, end, label in sorted((max(0, s), min(length, e), lab) for s, e, lab in spans):
        if start >= end:
            continue
        if out and start < out[-1][1]:
            prev = out[-1]
            out[-1] = (prev[0], max(prev[1], end), prev[2] + ([label] if label and label not in prev[2] else []))
        else:
            out.append((start, end, [label] if label else []))
    return [(s, e, " ".join(labels)) for s, e, labels in out]


def _fenced(lines: list[str]):
    """Each line with whether it lies inside (or is) a code fence: such lines are shown as written."""
    inside = False
    for line in lines:
        fence = FENCE.match(SENTINELS.sub("", line).lstrip())
        yield line, inside or bool(fence)
        if fence:
            inside = not inside


def line_runs(line: str, fenced: bool = False) -> list[Run]:
    """One escaped line as runs: its block syntax (heading, bullet, quote, rule) first, then inline styles."""
    if fenced:
        return [Run(line, ("code",))]
    lead = re.match(r"[\ue000\ue001]*", line).group(0)  # a span may open right at the line's start
    rest = line[len(lead):]
    indent = rest[:len(rest) - len(rest.lstrip(" \t"))]
    body = rest[len(indent):]
    if RULE.fullmatch(body.rstrip()):
        return [Run(lead + indent), Run("", ("rule",))]
    if m := HEADING.fullmatch(body):
        return [Run(lead + indent)] + [Run(r.text, ("b",) + r.styles) for r in inline(m.group(2))]
    if m := BULLET.fullmatch(body):
        box = {None: "• ", " ": "☐ "}.get(m.group("task"), "☑ ")
        return [Run(lead + indent + box)] + inline(m.group(3))
    if m := QUOTE.fullmatch(body):
        inner = m.group(2)
        if c := CALLOUT.fullmatch(inner):
            label = c.group("kind").capitalize() + (": " if c.group("title") else "")
            runs = [Run(label, ("b",))] + [Run(r.text, ("b",) + r.styles) for r in inline(c.group("title"))]
        else:
            runs = inline(inner)
        return [Run(lead + indent), Run("▍ ", ("muted",))] + [Run(r.text, ("quote",) + r.styles) for r in runs]
    return [Run(lead + indent)] + inline(body)


def inline(text: str) -> list[Run]:
    """Inline markdown as runs: atoms shown whole, paired toggles (**, ==, _ ...) as styles, the rest as text."""
    tokens: list[tuple[str, str | Run]] = []  # ("text", s) | ("toggle", marker) | ("atom", Run)
    pos = 0
    for m in ATOM.finditer(text):
        tokens += _toggles(text[pos:m.start()])
        tokens.append(("atom", _atom(m)))
        pos = m.end()
    tokens += _toggles(text[pos:])
    paired = _pair(tokens)
    runs: list[Run] = []
    active: list[str] = []
    for i, (kind, value) in enumerate(tokens):
        if kind == "toggle" and i in paired:
            style = TOGGLE_STYLE[value]
            if style in active:
                active.remove(style)
            else:
                active.append(style)
        elif kind == "atom":
            runs.append(Run(value.text, tuple(active) + value.styles))
        else:
            runs.append(Run(value, tuple(active)))
    return runs


def _toggles(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    for m in TOGGLE.finditer(text):
        before, after = text[m.start() - 1:m.start()], text[m.end():m.end() + 1]
        marker = m.group(0)
        if marker in ("_", "__") and before.isalnum() and after.isalnum():
            continue  # snake_case is not emphasis
        if marker == "*" and (not before or before.isspace()) and (not after or after.isspace()):
            continue  # 2 * 3
        out += [("text", text[pos:m.start()]), ("toggle", marker)]
        pos = m.end()
    out.append(("text", text[pos:]))
    return [t for t in out if t[1]]


def _pair(tokens: list[tuple[str, str | Run]]) -> set[int]:
    """Indexes of toggles that have a partner of the same marker later in the line; the rest show as text."""
    open_at: dict[str, int] = {}
    paired: set[int] = set()
    for i, (kind, value) in enumerate(tokens):
        if kind != "toggle":
            continue
        if value in open_at:
            paired |= {open_at.pop(value), i}
        else:
            open_at[value] = i
    for i in set(open_at.values()):
        tokens[i] = ("text", tokens[i][1])
    return paired


def _atom(m: re.Match) -> Run:
    """An atom's shown text; span sentinels in a part that is not shown are kept, at its end."""
    def kept(shown: str, *hidden: str) -> str:
        return shown + "".join(SENTINELS.findall("".join(hidden)))

    if m.group("esc") is not None:
        return Run(m.group("esc"))
    if m.group("code") is not None:
        return Run(m.group("code")[1:-1], ("code",))
    if m.group("embed") is not None:
        target, _, _size = m.group("embed").partition("|")
        return Run(kept("embed: " + target.strip(), _size), ("embed",))
    if m.group("wiki") is not None:
        target, bar, alias = m.group("wiki").partition("|")
        if bar and alias.strip():
            return Run(kept(alias, target), ("link",))
        return Run(" > ".join(p for p in target.split("#") if p.strip()) or target, ("link",))
    if m.group("src") is not None:
        return Run(kept("image: " + (m.group("alt") or "untitled"), m.group("src")), ("embed",))
    return Run(kept(m.group("text"), m.group("href")), ("link",))


def emit(lines: list[list[Run]], labels: list[str]) -> str:
    """Runs as HTML: each run's styles open and close around its own text; <mark> at the sentinels."""
    out: list[str] = []
    marked = False
    labels = list(labels)
    for runs in lines:
        for run in runs:
            if "rule" in run.styles:
                out.append('<span class="reread-rule"></span>')
                continue
            for piece in re.split("([\ue000\ue001])", run.text):
                if piece == OPEN and not marked:
                    label = labels.pop(0) if labels else ""
                    out.append(f'<sup class="reread-n">{html.escape(label)}</sup>' if label else "")
                    out.append("<mark>")
                    marked = True
                elif piece == CLOSE and marked:
                    out.append("</mark>")
                    marked = False
                elif piece and piece not in (OPEN, CLOSE):
                    out.append(_wrap(piece, run.styles))
        out.append("\n")
    if out and out[-1] == "\n":
        out.pop()
    if marked:
        out.append("</mark>")
    return "".join(out)


def _wrap(text: str, styles: tuple[str, ...]) -> str:
    ordered = [s for s in STYLE_TAGS if s in styles]
    return ("".join(STYLE_TAGS[s][0] for s in ordered) + text
            + "".join(STYLE_TAGS[s][1] for s in reversed(ordered)))
