"""Text for Streamlit's markdown (labels, answers) and the links a source card offers; nothing here draws."""

from __future__ import annotations

import re
import sys
import traceback
from pathlib import Path
from urllib.parse import quote

from assistant import RereadError

MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~=$:])")


def failure(e: Exception) -> str:
    """One line for an error shown in the page. Ours already say what to do; anything else (a bug) is named
    with its type and message, its traceback goes to the terminal running `reread ui`, not into the page."""
    if isinstance(e, RereadError):
        return str(e)
    traceback.print_exception(e, file=sys.stderr)
    said = " ".join(str(e).split())[:300]
    return (f"Something went wrong ({type(e).__name__}{': ' + said if said else ''}); the details are in the "
            "terminal running `reread ui`. Try again, or re-index if it persists.")


def plain_markdown(text: str) -> str:
    """Text shown through st.markdown as written: no images, links, HTML or directives from a note or an LLM.
    A literal \\[12\\] (escaped so it is not a citation marker) shows as [12]; lines are kept."""
    text = text.replace("\\[", "[").replace("\\]", "]")
    return MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", "  \n")


def obsidian_url(vault: Path | str, source: str) -> str:
    """obsidian://open for the vault named after its folder, the file given by its path in the vault."""
    return f"obsidian://open?vault={quote(Path(vault).name, safe='')}&file={quote(source, safe='')}"


def file_url(vault: Path | str, source: str) -> str:
    return (Path(vault) / source).resolve().as_uri()


def card_title(title: str, source: str, page: int | None) -> str:
    """A book's title with its page, a note's title (the file name when it has none)."""
    name = title or Path(source).stem
    return f"{name}, p. {page}" if page else name
