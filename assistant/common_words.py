"""How everyday an English word is, per stem, so that refusals can tell "really" from "docx".

A question word the vault never uses is strong evidence that the notes are about something else when it is
specific ("docx", "venv", "kindle"), and weak when it is everyday English that the notes just happen not to
use ("really", "several", "stand for"). The table is wordfreq's Zipf frequency (log10 of uses per billion
words) of English words, kept per Snowball stem (the most common form wins) for words at Zipf 3.5 and above;
it ships in assistant/data, so nothing is looked up at run time. Rebuild it with
`python -m assistant.common_words` (needs `pip install wordfreq`).
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

TABLE = Path(__file__).with_name("data") / "common_stems.tsv.gz"
EVERYDAY = 5.0  # at this Zipf frequency or above a word says nothing by its absence ("really" 6.0, "offer" 5.1)
SPECIFIC = 3.5  # at or below, its absence counts in full ("squash" 3.6, "docx" 1.8, "venv" and "h5": unlisted)


@functools.cache
def table() -> dict[str, float]:
    with gzip.open(TABLE, "rt", encoding="utf-8") as f:
        return {stem: float(z) for stem, z in (line.rstrip("\n").split("\t") for line in f if line.strip())}


def rarity(stem: str) -> float:
    """1 for a specific word, 0 for an everyday one, linear between."""
    z = table().get(stem, 0.0)
    return min(1.0, max(0.0, (EVERYDAY - z) / (EVERYDAY - SPECIFIC)))


def build(out: Path = TABLE, floor: float = SPECIFIC) -> int:
    import wordfreq

    from ingest.lexical import Analyzer

    analyzer, best = Analyzer(), {}
    for word in wordfreq.iter_wordlist("en", "large"):
        z = wordfreq.zipf_frequency(word, "en")
        if z < floor:
            break  # the list is in frequency order
        stems = analyzer(word)
        if len(stems) == 1:
            best[stems[0]] = max(best.get(stems[0], 0.0), z)
    text = "".join(f"{stem}\t{z:.1f}\n" for stem, z in sorted(best.items()))
    out.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))  # the same bytes on every rebuild
    return len(best)


if __name__ == "__main__":
    print(f"{build()} stems written to {TABLE}")
