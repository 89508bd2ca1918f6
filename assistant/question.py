"""What a question asks for: a how-to's steps, a term's definition or an acronym spelled out, an amount, a date,
a work's author; and whether a sentence defines the term asked about."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.markdown import clean_inline

from .citations import words

HOWTO = re.compile(r"\bhow\s+(?:do|can|could|should|would|shall|may|might)\s+(?:i|you|we|one|people)\b|\bhow\s+to\b"
                   r"|\b(?:what|which)\s+(?:are|is)\s+the\s+steps?\b|^\s*(?:the\s+)?steps?\s+(?:to|for)\b", re.I)
DEFINE = (re.compile(r"^\s*(?:what|who)(?:'s|’s|\s+is|\s+are|\s+was|\s+were)\s+(?P<t>.+?)[\s?.!]*$", re.I),
          re.compile(r"^\s*what\s+(?:does|do|did)\s+(?P<t>.+?)\s+(?:mean|stand\s+for)[\s?.!]*$", re.I),
          re.compile(r"^\s*(?:define|(?:definition|meaning)\s+of|what\s+is\s+meant\s+by)\s+(?P<t>.+?)[\s?.!]*$", re.I))
# "What is the difference between...", "What is X used for?" ask for more than a definition
NOT_A_TERM = re.compile(r"\b(?:differences?|between|used|for|why|how|when|where|which|best|purpose|benefits?|ways?"
                        r"|in|on|with|do|does|can|should)\b", re.I)
ARTICLE = re.compile(r"^(?:an?|the)\s+", re.I)
PREPOSITIONS = {"of", "for", "in", "on", "with", "about", "from", "to", "by"}
COPULA = re.compile(r"^(?P<s>[^:;.!?]{1,80}?)\s*(?::|\s[-–—]\s|\s(?:is|are|was|were|means?|refers?\s+to|stands?\s+for"
                    r"|describes?|denotes?|represents?)\b)", re.I)
NAMED = re.compile(r"\b(?:is|are)\s+(?:(?:also\s+)?(?:called|known\s+as|named|termed)\s+)?(?P<o>[^,;:.!?]{1,60})[.!]?$",
                   re.I)
QUANTITY = re.compile(r"^\s*(?:how\s+(?:much|many|long|big|large|often|old|fast)|what\s+(?:size|year|percentage|price"
                      r"|limit)|when)\b|^\s*(?:is|are)\s+there\s+(?:an?|any)\s+(?:[\w-]+\s+){0,2}(?:limit|maximum|minimum"
                      r"|cap|fee|charge|cost|price|discount)s?\b", re.I)
# "how many", "how much", "how large": asked for an amount, an answer without one does not answer. Measured: out of
# scope answered, Turing Way held out 4 -> 2 of 10, 11 amount questions written afterwards 9 -> 5; no in-scope
# question refused on any set (15 amount questions written afterwards among them). "How long", "how often" and
# "when" are left out: "a few minutes", "daily" and "before you switch tasks" answer them without a number.
FOLLOWING = r"^\s*(?:(?:and|but|so|then|also|okay|ok)\b[,\s]*)?"  # a follow-up's "And how much ...?"
AMOUNT = re.compile(FOLLOWING + r"(?:(?:roughly|approximately|about)\s+)?how\s+(?:much|many|large|big)\b"
                    r"|" + FOLLOWING + r"what\s+(?:size|percentage|price)\b", re.I)
NUMBER = re.compile(r"(?<![\w.-])[$€£]?\d[\d,.]*(?:\s?(?:%|k|m|b|bn|gb|mb|kb|tb|x|st|nd|rd|th|s|ms|h|px))?(?![a-z])"
                    r"|[¼½¾⅓⅔]|\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty"
                    r"|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?"
                    r"|trillions?|dozens?|half|double|twice|triple|single)\b", re.I)
# "When was ...", "In what year ...": asked for a time, an answer without a date does not answer ("When is AI
# complementary to an app?" and "When should I commit?" ask for a condition, and are left alone). Measured on 15
# time questions written after the rule: out of scope answered 9 -> 1 of 9, in scope refused 0 of 6; QA sets unmoved.
WHEN = re.compile(FOLLOWING + r"when\s+(?:was|were|did)\b|" + FOLLOWING + r"(?:(?:in|from|since|by)\s+)?(?:what|which)"
                  r"\s+(?:year|date|decade|century)\b", re.I)
# a year, a day, a month; an ISO or numeric date ("2024-03-05", "5/3/2024"), as daily notes and changelogs write them;
# a release ("removed in 2.6.1", "since version 3"): in software notes a version is when something changed. "May"
# counts beside a number only: "You may use ..." dated every sentence with a modal verb in it.
DATE = re.compile(r"(?<![\w.-])(?:1[0-9]{3}|20[0-9]{2})s?(?![\w-])|\b\d{1,2}(?:st|nd|rd|th)\b|\b(?:january|february"
                  r"|march|april|(?<=\d\s)may|may(?=\s+\d)|june|july|august|september|october|november|december|century|centuries"
                  r"|decades?|ago)\b|(?<![\w.-])(?:1[0-9]|20)[0-9]{2}-[01]?[0-9](?:-[0-3]?[0-9])?(?![\w-])"
                  r"|(?<![\w./])[0-3]?[0-9]/[01]?[0-9]/(?:[0-9]{2}){1,2}(?![\w/])"
                  r"|(?<![\w.])v?[0-9]+\.[0-9]+\.[0-9]+(?![\w.]*[0-9])"
                  r"|\b(?:version|release)\s+v?[0-9]+(?:\.[0-9]+)*\b", re.I)
# an acronym the question asks about ("What does TPOT stand for?", "What is MMLU?") and the words that spell it out
ACRONYM = re.compile(r"(?<![\w-])([A-Z][A-Z0-9]{1,7})s?(?![\w-])")
SPELLS_OUT = re.compile(r"\b(?:stand|stands|short|acronym|abbreviation|letters)\b", re.I)
LINKING = {"and", "of", "for", "to", "in", "on", "the", "a", "an", "&"}  # "Findability, ... and Reusability"
NAME_WORD = re.compile(r"[\w'’-]+")
# "Who wrote X?", "Who is the author of X?", "X was written by whom?": the note's author property answers
AUTHOR_Q = re.compile(r"\bwho\s+(?:wrote|writes|authored|is\s+the\s+author|was\s+the\s+author)\b|\bauthor\s+of\b"
                      r"|\bwritten\s+by\s+whom\b|\bwho\s+(?:is|was)\s+\S+(?:\s+\S+)?\s+by\b", re.I)


@dataclass(frozen=True)
class Question:
    howto: bool
    quantity: bool = False  # "how many", "how much", "when": the answer holds a number
    term: frozenset[str] = frozenset()  # content words of the term a definition question asks about
    head: str = ""  # the term's last content word, which a defining sentence must name
    phrase: str = ""  # the term as asked
    acronym: str = ""  # an acronym the question asks to spell out ("TPOT")


def names_in(question: str) -> list[str]:
    """The question's words written as names: capitalised after its first word, not acronyms ("Nixon", "Iceland";
    not "AI", nor "What")."""
    return [w for w in NAME_WORD.findall(question)[1:] if w[0].isupper() and not w.isupper()]

def _content(text: str) -> list[str]:
    """Content words in order, as words() counts them."""
    return [w for tok in re.findall(r"[a-z0-9À-ɏ]+", text.lower()) for w in words(tok)]


def classify(question: str) -> Question:
    """How-to, definition (with its term) or a plain fact question."""
    if HOWTO.search(question):
        return Question(True)
    if QUANTITY.search(question):
        return Question(False, True)
    for pattern in DEFINE:
        m = pattern.match(question)
        if m:
            term = ARTICLE.sub("", m.group("t").split(",")[0].strip())  # "AI engineering, in one sentence"
            seq = _content(term)
            acronyms = ACRONYM.findall(term)
            acronym = acronyms[0] if len(acronyms) == 1 and (len(seq) == 1 or SPELLS_OUT.search(question)) else ""
            if seq and len(seq) <= 6 and not NOT_A_TERM.search(term):
                return Question(False, False, frozenset(seq), seq[-1], term, acronym)
            break
    return Question(False)


def spells_out(text: str, acronym: str) -> bool:
    """The sentence names the acronym and holds words whose initials spell it, in a row ("time per output
    token", "Findability, Accessibility, Interoperability and Reusability", "retrieval-augmented generation");
    a two-letter one only right beside it in brackets ("artificial intelligence (AI)"), where chance cannot."""
    flat = clean_inline(text)
    if not re.search(rf"(?<![\w-]){re.escape(acronym)}s?(?![\w-])", flat):
        return False
    if len(acronym) == 2:
        before = re.findall(rf"((?:[A-Za-z][\w'-]*[\s,]+){{1,4}})\(\s*{acronym}\s*\)", flat)
        inside = re.findall(rf"{acronym}\s*\(([^)]*)\)", flat)
        return any(_initials(part, acronym) for part in before + inside)
    return _initials(flat, acronym)


def _initials(text: str, acronym: str) -> bool:
    """Some run of words in text has the acronym's letters as initials (linking words may sit between)."""
    found = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9']*", text) if w.upper() != acronym]
    letters = acronym.lower()
    for i in range(len(found)):
        k, j = 0, i
        while j < len(found) and k < len(letters):
            if found[j][0].lower() == letters[k]:
                k, j = k + 1, j + 1
            elif k and found[j].lower() in LINKING:
                j += 1
            else:
                break
        if k == len(letters):
            return True
    return False


def _names(phrase: str, q: Question, slack: int = 2) -> bool:
    """The phrase is the term, give or take a few words ("A *vault*", "the model's vocabulary"), and not
    something about it ("Evaluation of quantization")."""
    got = words(phrase)
    if not (q.head in got and 2 * len(q.term & got) >= len(q.term) and len(got) <= len(q.term) + slack):
        return False
    raw = re.findall(r"[a-z0-9À-ɏ]+", phrase.lower())
    before = raw[:next(i for i, w in enumerate(raw) if words(w) == {q.head})]
    return not any(w in PREPOSITIONS and w not in q.phrase.lower().split() for w in before)


def defines(text: str, q: Question) -> bool:
    """The sentence says what the term is: "X is/means ...", "**X**: ...", "X - ...", "... is called X"."""
    if not q.term:
        return False
    flat = " ".join(clean_inline(text).split())
    m = COPULA.match(flat)
    if m and _names(m.group("s"), q):
        return True
    m = NAMED.search(flat)
    if m and _names(m.group("o"), q, 1):
        return True
    before = flat.split(": ", 1)[0] if ": " in flat else ""  # "the emergence of model as a service: models ..."
    return bool(before) and _names(" ".join(before.split()[-6:]), q)
