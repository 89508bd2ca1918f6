"""HTML for sources: note text is data, so every piece is escaped before it is marked up."""

from __future__ import annotations

import html


def highlighted(before: str, quote: str, after: str) -> str:
    """The passage with the cited span in <mark>, whitespace kept, everything escaped."""
    body = f"{html.escape(before)}<mark>{html.escape(quote)}</mark>{html.escape(after)}"
    return f'<div class="reread-passage" style="white-space: pre-wrap">{body}</div>'
