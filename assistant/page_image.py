"""A PDF citation as a picture: render the cited page with pdfium and mark the quoted span on it."""

from __future__ import annotations

import io
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import UnreadableFile

Box = tuple[float, float, float, float]

FILL = (255, 221, 0, 90)  # translucent yellow over the words
OUTLINE = (230, 160, 0, 255)
MIN_PARTIAL = 12  # a partial match shorter than this (normalised chars) is too likely to be a coincidence
BRIDGE_PART = 4  # each end of a quote bridged over a mismatch in its middle matches at least this much

# pdfium is not thread-safe and Streamlit serves each session from its own thread.
_PDFIUM_LOCK = threading.Lock()

_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
           "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"'}
# Dashes and hyphens are dropped, not folded: pypdf keeps a line-end hyphen as "-" where pdfium reports U+0002
# (or drops it), so neither side may depend on them.
_DROP = set("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u00ad\u0002\ufffe\ufeff\u200b\u200c\u200d")


@dataclass(frozen=True)
class PageImage:
    png: bytes  # the rendered page, with the cited span's boxes drawn (translucent yellow fill + outline)
    width: int  # pixels
    height: int
    boxes: list[Box] = field(default_factory=list)  # the span's boxes in image pixels (left, top, right, bottom)
    found: bool = False  # False when the quote could not be located on the page (image still rendered, no boxes)


def normalise(text: str) -> tuple[str, list[int]]:
    """text without whitespace, dashes or case, ligatures and quotes folded; and each kept char's index in text."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", _QUOTES.get(ch, ch)).casefold():
            if c.isspace() or c in _DROP or unicodedata.category(c) == "Cc":
                continue
            out.append(c)
            where.append(i)
    return "".join(out), where


def _longest(needle: str, hay: str, start: int, prefix: bool) -> tuple[int, int]:
    """The longest prefix (or suffix) of needle found in hay[start:], as (position, length); (-1, 0) if none.
    Being found is monotonic in the length, so a binary search will do."""
    lo, hi, best = 1, len(needle), (-1, 0)
    while lo <= hi:
        mid = (lo + hi) // 2
        pos = hay.find(needle[:mid] if prefix else needle[-mid:], start)
        if pos >= 0:
            best, lo = (pos, mid), mid + 1
        else:
            hi = mid - 1
    return best


def locate(quote: str, hay: str) -> tuple[int, int] | None:
    """[start, end) of the normalised quote in the normalised page text: the whole of it, else its longest
    leading part bridged to a trailing part (a mismatch in the middle), else the longest leading or trailing
    part if that is at least half of it."""
    if not quote:
        return None
    pos = hay.find(quote)
    if pos >= 0:
        return pos, pos + len(quote)
    need = max(MIN_PARTIAL, (len(quote) + 1) // 2)
    p_pos, p_len = _longest(quote, hay, 0, prefix=True)
    if p_len >= BRIDGE_PART:
        s_pos, s_len = _longest(quote[p_len:], hay, p_pos + p_len, prefix=False)
        end = s_pos + s_len
        # the parts must lie about as far apart as they do in the quote, or the bridge spans other text
        if s_len >= BRIDGE_PART and p_len + s_len >= need and abs(end - p_pos - len(quote)) <= 4 + len(quote) // 4:
            return p_pos, end
    s_pos, s_len = _longest(quote, hay, 0, prefix=False)
    if max(p_len, s_len) < need:
        return None
    return (p_pos, p_pos + p_len) if p_len >= s_len else (s_pos, s_pos + s_len)


def merge_lines(rects: list[Box]) -> list[Box]:
    """PDF rects (left, bottom, right, top) in reading order, joined into one rect per line: a rect joins the
    line before it when they overlap by half a line's height and the gap between them is under two lines'."""
    lines: list[list[float]] = []
    for left, bottom, right, top in rects:
        if right <= left or top <= bottom:
            continue
        if lines:
            cur = lines[-1]
            overlap = min(top, cur[3]) - max(bottom, cur[1])
            height = min(top - bottom, cur[3] - cur[1])
            gap = max(left - cur[2], cur[0] - right)
            if overlap >= 0.5 * height and gap < 2 * height:
                lines[-1] = [min(left, cur[0]), min(bottom, cur[1]), max(right, cur[2]), max(top, cur[3])]
                continue
        lines.append([left, bottom, right, top])
    return [(a, b, c, d) for a, b, c, d in lines]


def to_pixels(rect: Box, bbox: Box, rotation: int, scale: float) -> Box:
    """A PDF rect (left, bottom, right, top; origin bottom-left of the page space) as an image box (left, top,
    right, bottom; origin top-left of the rendered bitmap), for a page shown turned clockwise by rotation."""
    page_l, page_b, page_r, page_t = bbox
    w, h = page_r - page_l, page_t - page_b

    def point(x: float, y: float) -> tuple[float, float]:
        u, v = x - page_l, page_t - y  # unrotated, top-left origin, points
        turned = {0: (u, v), 90: (h - v, u), 180: (w - u, h - v), 270: (v, w - u)}[rotation % 360]
        return turned[0] * scale, turned[1] * scale

    (x1, y1), (x2, y2) = point(rect[0], rect[1]), point(rect[2], rect[3])
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _page_text(textpage) -> str:
    """The page's chars, one per pdfium char index (get_text_range may insert or skip some, breaking the map)."""
    import pypdfium2.raw as raw

    return "".join(chr(raw.FPDFText_GetUnicode(textpage.raw, i)) for i in range(textpage.count_chars()))


def span_rects(textpage, quote: str) -> list[Box]:
    """The quote's boxes on the page in PDF units, one per line; [] if it is not there."""
    hay, where = normalise(_page_text(textpage))
    span = locate(normalise(quote)[0], hay)
    if span is None:
        return []
    first, last = where[span[0]], where[span[1] - 1]
    count = textpage.count_rects(first, last - first + 1)
    return merge_lines([textpage.get_rect(i) for i in range(count)])


def _draw(image, boxes: list[Box]) -> bytes:
    from PIL import Image, ImageDraw

    base = image.convert("RGBA")
    if boxes:
        overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for left, top, right, bottom in boxes:
            draw.rectangle((left - 2, top - 1, right + 2, bottom + 1), fill=FILL, outline=OUTLINE, width=2)
        base = Image.alpha_composite(base, overlay)
    buf = io.BytesIO()
    base.convert("RGB").save(buf, format="PNG", compress_level=3)  # level 3: a third of the time of 6, ~same size
    return buf.getvalue()


def render_page(pdf_path: Path, page: int, quote: str | Sequence[str], scale: float = 1.5) -> PageImage:
    """Page `page` (1-based) of the PDF as a PNG, with `quote` (pypdf's text of that page), or each of
    several quotes (the citations that share one card), marked on it. found: every quote was located."""
    import pypdfium2 as pdfium

    source = str(pdf_path)
    if not Path(pdf_path).is_file():
        raise UnreadableFile(source, "no such file; re-index if it was moved or deleted")
    with _PDFIUM_LOCK:
        try:
            doc = pdfium.PdfDocument(str(pdf_path))
        except pdfium.PdfiumError as e:
            if "password" in str(e).lower():
                raise UnreadableFile(source, "encrypted and needs a password; save a decrypted copy") from None
            raise UnreadableFile(source, f"not a readable PDF, corrupt or truncated ({e})") from None
        try:
            if not 1 <= page <= len(doc):
                raise UnreadableFile(source, f"has no page {page} (it has {len(doc)} pages); re-index it")
            pdf_page = doc[page - 1]
            textpage = pdf_page.get_textpage()
            located = [span_rects(textpage, q) for q in ([quote] if isinstance(quote, str) else quote)]
            rects = [r for rs in located for r in rs]
            bbox, rotation = tuple(pdf_page.get_bbox()), pdf_page.get_rotation()
            image = pdf_page.render(scale=scale).to_pil()  # BGR into RGB: a copy, safe past doc.close()
        except pdfium.PdfiumError as e:
            raise UnreadableFile(source, f"page {page} cannot be rendered ({e})") from None
        finally:
            doc.close()
    boxes = [to_pixels(r, bbox, rotation, scale) for r in rects]
    return PageImage(png=_draw(image, boxes), width=image.width, height=image.height, boxes=boxes,
                     found=bool(located) and all(located))
