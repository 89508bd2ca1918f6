"""The offline answerer: the notes' own words, cited: the key fact, a how-to's steps, a term's definition.

Tried and left out: a bonus for a sentence the reader ==highlighted== (+0.05: key fact on the sample vault's
held-out questions 0.97 -> 1.0, on its tuning questions 0.85 -> 0.84; +0.1: -0.03 there)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ingest.lexical import Analyzer
from ingest.markdown import clean_inline
from ingest.types import Answer, Chunk, Hit

from .citations import (
    LEAD_IN,
    LISTED,
    Piece,
    as_text,
    by_block,
    citation,
    escape_markers,
    follows,
    is_label,
    list_after,
    passages,
    pieces,
    plain,
    same_place,
    span_in,
    words,
)

NOT_FOUND = "Your notes don't seem to answer this."
NO_AMOUNT = "The sentences closest to the question give no amount."
NO_DATE = "The sentences closest to the question give no date."

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
DIGIT = re.compile(r"\d")
SENTENCE_PUNCT = re.compile(r"[.!?:;]")
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
ASKED_FOR = ((AMOUNT, NUMBER, NO_AMOUNT), (WHEN, DATE, NO_DATE))  # what a question asks for, what gives it
# an instruction in one sentence: "To create a tag, enter ...", "Press Ctrl+P to ..."
INSTRUCTION = re.compile(r"(?:to\s[^,.:;]{3,80},\s*)?(?:then\s+)?(?:open|select|click|press|enter|type|run|drag|choose"
                         r"|tap|go\s+to|navigate|right-click|double-click|use\s+the)\b", re.I)
STEPS_LEAD = re.compile(r"^to\s|\b(?:steps?|ways?|methods?|follow(?:ing)?|either)\b", re.I)
ALTERNATIVE = re.compile(r"(?:you\s+can\s+also|or|alternatively|also)\b", re.I)
# a sentence that leans on the one before it ("This configuration is written in Ruby.", "Without this, no one
# can legally use it."): read with its predecessor, it often holds the fact the predecessor only sets up. A connective
# leans back too ("Therefore, they cannot be nested ...": the reason is the sentence before); "however", "thus",
# "otherwise", "specifically" and "instead" only with their comma ("However faint that prospect ...", "Instead of
# tabs, use ...", "Thus far ..." stand alone). Key fact Python-Markdown 0.49 -> 0.51, book PDFs 2 +0.016, the
# other sets the same
LEANS_BACK = re.compile(r"^\W*(?:(?:therefore|hence|consequently)\b|(?:thus|otherwise|specifically|instead|however),"
                        r"|(?:\w+\s+){0,2}(?:this|these|those)\b|(?:it|they|such|that)\s)", re.I)
# an acronym the question asks about ("What does TPOT stand for?", "What is MMLU?") and the words that spell it out
ACRONYM = re.compile(r"(?<![\w-])([A-Z][A-Z0-9]{1,7})s?(?![\w-])")
SPELLS_OUT = re.compile(r"\b(?:stand|stands|short|acronym|abbreviation|letters)\b", re.I)
LINKING = {"and", "of", "for", "to", "in", "on", "the", "a", "an", "&"}  # "Findability, ... and Reusability"
EXPANSION_BONUS = 0.3  # the sentence that spells the acronym out is its definition
CONTEXT_WEIGHT, CONTEXT_FLOOR = 0.3, 0.45
HOWTO_BONUS = 0.1  # a how-to question prefers steps and instructions
# the retriever ranked the whole passage (its heading, its words, its neighbours' share): a sentence from its first
# passage gets 0.05, from its second 0.025, ... Key fact: sample tuning 0.85 -> 0.87, Turing Way held out 0.82 ->
# 0.84, help vault 0.56 -> 0.58, sample held out unchanged; the same from 0.03 to 0.07; no answer lost, none refused
PASSAGE_RANK = 0.05
NEIGHBOUR_SLACK = 0.1  # how much lower the sentence right next to a chosen one may score
# ... and the sentence right after a chosen one, when it holds a word of the question that the answer and the note's
# title do not ("The Faroese economy is dependent on fishing ..." reads on: "The sector normally accounts for about 95%
# of exports"). Key fact: Factbook 0.81 -> 0.83, State of the Union 2 0.65 -> 0.68, book PDFs 2 0.48 -> 0.50, the
# others the same; 12 of 398 answers change, 0.6 words longer on average. Any sentence after a chosen one within 0.5
# (no new word asked): more key facts (Turing Way +0.02, State of the Union 2 +0.08) but 55 answers padded with what
# follows ("... 10-day war. Historical ties to Western Europe ..."), 5 words longer; 0.3 lost the Faroese 95%. Any
# sentence at all holding a new word asked, within 0.1 below the floor: 59 answers changed, most by a third sentence
# from another note ("Every job also runs in an environment ..."), 4 words longer, the Faroese 95% lost again.
# Also tried in session 13: a two-part question ("..., and who wrote the music?") answered part by part (each part's
# best sentence, read with the whole question): no set moved, and the second part's best was another country's
# anthem; the question's words counted by rarity in `overlap` (0.5 + common_words.rarity): on the nine studied sets
# one key fact more and one error fewer each way, but neighbouring weights lost as many and the blind PyMdown set lost
# a key fact (0.48 -> 0.46)
READ_ON_SLACK = 0.5
ASKING = "many much long often old far big large one ones kind kinds type types way ways thing things"  # not asked
STEPS_REACH = 0.3  # a how-to answer adds the best steps this far below its key sentence
NAME_WORD = re.compile(r"[\w'’-]+")
# "Who wrote X?", "Who is the author of X?", "X was written by whom?": the note's author property answers
AUTHOR_Q = re.compile(r"\bwho\s+(?:wrote|writes|authored|is\s+the\s+author|was\s+the\s+author)\b|\bauthor\s+of\b"
                      r"|\bwritten\s+by\s+whom\b|\bwho\s+(?:is|was)\s+\S+(?:\s+\S+)?\s+by\b", re.I)
CLAUSE_SENTENCE, CLAUSE_WORDS = 25, 4  # a sentence this long is read clause by clause too; clauses this long count


@dataclass(frozen=True)
class Question:
    howto: bool
    quantity: bool = False  # "how many", "how much", "when": the answer holds a number
    term: frozenset[str] = frozenset()  # content words of the term a definition question asks about
    head: str = ""  # the term's last content word, which a defining sentence must name
    phrase: str = ""  # the term as asked
    acronym: str = ""  # an acronym the question asks to spell out ("TPOT")


@dataclass
class Candidate:
    """A sentence, or a lead-in with the list or code block it introduces, inside one chunk."""

    hit: Hit
    parts: list[Piece]
    steps: bool = False  # a lead-in plus its list (or a list on its own)
    score: float = 0.0  # how well it answers: similarity, shared words, and the bonuses below
    base: float = 0.0  # the score without the bonuses, which decides whether the notes answer at all
    sim: float = 0.0
    overlap: float = 0.0
    vec: np.ndarray = field(default=None, repr=False)

    @property
    def start(self) -> int:
        return self.parts[0].start

    @property
    def end(self) -> int:
        return self.parts[-1].end

    @property
    def plain(self) -> str:  # its words, for overlap and near-duplicates
        return " ".join(plain(p) for p in self.parts if p.kind != "code")


def _leaf(chunk: Chunk, pos: int) -> str:  # the heading a position of the chunk sits under, without its parents
    return chunk.heading_at(pos).split(" > ")[-1]


def names_in(question: str) -> list[str]:
    """The question's words written as names: capitalised after its first word, not acronyms ("Nixon", "Iceland";
    not "AI", nor "What")."""
    return [w for w in NAME_WORD.findall(question)[1:] if w[0].isupper() and not w.isupper()]


def clauses(sentence: str) -> list[str]:
    """The clauses of a long sentence cut at its semicolons ("... lost forever all dominion over them; that Greece
    will become again an independent nation."): older prose packs several facts into one sentence, and its one
    vector reads them all at once. A short sentence, or one without semicolons, has none."""
    if len(sentence.split()) < CLAUSE_SENTENCE or ";" not in sentence:
        return []
    return [p.strip() for p in sentence.split(";") if len(p.split()) >= CLAUSE_WORDS]


def _dated(c: Candidate) -> str:
    """The nearest heading over the sentence, or else the note's title, that holds a date; "" if none does."""
    path = c.hit.chunk.heading_at(c.start).split(" > ")
    return next((h for h in [*reversed(path), c.hit.chunk.title] if DATE.search(h)), "")


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


def is_fragment(p: Piece) -> bool:
    """A heading-like scrap ("Masked language model") that cannot stand as an answer."""
    text = plain(p)
    return len(words(text)) < 3 or (not SENTENCE_PUNCT.search(text) and len(text.split()) <= 6)


def candidates(hit: Hit, q: Question) -> list[Candidate]:
    """Sentences of a chunk worth answering with; a lead-in (it names what follows, "... methods:", or runs on
    into it, "keep copies stored on") comes with its list or table, never alone."""
    blocks = by_block(pieces(hit.chunk))
    out: list[Candidate] = []
    inside = -1  # the end of the list the last lead-in introduced
    for i, b in enumerate(blocks):
        # a heading line (a chunk packed from small sections holds the later ones' headings) is never quoted, and
        # what follows it reads as the start of a section
        kind, prev = b[0].kind, (blocks[i - 1] if i and blocks[i - 1][0].kind != "heading" else None)
        if kind == "heading":
            continue
        led = prev is not None and bool(LEAD_IN.search(plain(prev[-1])))  # quoted with its lead-in already
        lead = [prev[-1]] if prev and prev[0].kind == "prose" else []  # the paragraph a list or table follows
        if kind == "table" and not led:
            out.append(Candidate(hit, lead + list_after(blocks, i, None), steps=True))
        if kind in ("code", "table"):
            continue
        after = list_after(blocks, i + 1, b[-1].depth if kind == "item" else None) if i + 1 < len(blocks) else []
        for p in b:
            is_lead = p is b[-1] and (LEAD_IN.search(plain(p)) or (after and not is_fragment(p)
                                                                   and not plain(p).endswith((".", "!", "?"))))
            if is_lead and after and not (is_label(b) and p.start < inside):  # "Ribbon:" within a list of methods
                out.append(Candidate(hit, [p, *after], steps=True))
                inside = max(inside, after[-1].end)
            elif not is_lead and not is_fragment(p) and len(p.text) <= 600:
                out.append(Candidate(hit, [p]))
        # a list right under its heading; for a how-to, steps after a paragraph, with no lead-in
        if kind == "item" and not led and (prev is None or (q.howto and prev[0].kind not in LISTED)):
            run = list_after(blocks, i, None)
            if len(lead + run) > 1 and (prev is None or procedural(run)):
                out.append(Candidate(hit, lead + run, steps=True))
    return out


def procedural(parts: list[Piece]) -> bool:
    """Steps rather than a list of facts: numbered, mostly imperative, code to type, or introduced as steps."""
    items = [p for p in parts if p.kind == "item"]
    return (any(p.marker[:1].isdigit() or p.kind == "code" for p in parts)
            or 2 * sum(bool(INSTRUCTION.match(plain(p))) for p in items) >= max(1, len(items))
            or bool(STEPS_LEAD.search(plain(parts[0]))))


def render(c: Candidate) -> str:
    """A candidate as plain text: a sentence as it reads, a list one line per item."""
    return as_text(c.parts) if c.steps else plain(c.parts[0])


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, embedder, max_sentences: int = 3, threshold: float = 0.45, spread: float = 0.12):
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.threshold = threshold  # below this the notes do not hold the answer
        self.spread = spread  # further sentences must score within this of the best
        self.stems = Analyzer()  # the question's words found in a sentence, as BM25 stems them ("independence" and
        # "independent" are one word)
        self._asking = set(self.stems(ASKING))

    def answer(self, question: str, hits: list[Hit]) -> Answer:
        cands, q = self.ranked(question, hits), classify(question)
        howto = q.howto
        written = self._written_by(question, cands)
        if written is not None:  # "Who wrote AI Engineering?": the book's note says, in its author property
            c, author = written
            return self._compose(question, [c], hits, f"{c.hit.chunk.title} is by {author} (its note's author). ")
        top = max(cands, key=lambda c: c.base, default=None)
        # a sentence that only sounds related (no shared word, middling similarity) is not an answer. Tried and left
        # out (session 14): also refusing when the key sentence shares no asked word beyond its note's title and
        # heading ("What does the book say about hiring?" answered from the book's note by its title alone): under a
        # similarity of 0.5, one out-of-scope question more refused and two in scope; under 0.6, two and four
        if top is None or top.base < self.threshold or (not top.overlap and top.sim < 0.6):
            return Answer(question, NOT_FOUND, [], self.name, False)
        best, chosen = cands[0], [cands[0]]
        floor = max(self.threshold, best.score - self.spread)
        for c in cands[1:]:
            if len(chosen) == self.max_sentences or c.score < floor - READ_ON_SLACK:
                break
            if any(_clash(c, d) or (c.steps and d.steps and c.hit.chunk.source != d.hit.chunk.source) for d in chosen):
                continue  # the same thing again, or a second procedure from another note
            # the sentence next to a chosen one reads on from it and shares its citation: a lower bar; lower still for
            # the one right after it that holds something the question asks and the answer does not yet say
            if (c.score >= floor or (c.score >= floor - NEIGHBOUR_SLACK and any(_neighbours(c, d) for d in chosen))
                    or (any(_reads_on(c, d) for d in chosen) and self._adds(question, c, chosen))):
                chosen.append(c)
        leaning = _leaning_on(best, cands)  # the key sentence's own continuation outranks the sentences after it
        if leaning is not None and leaning not in chosen:
            chosen = ([best, leaning] + chosen[1:])[:self.max_sentences]
        # "That tribe ... has ceded to us all the country between the Wabash and Ohio": the tribe is named in the
        # sentence before, which comes first
        referent = _leant_on(best, cands)
        if referent is not None and referent not in chosen:
            chosen = ([referent] + chosen)[:self.max_sentences]
        if q.quantity and not DIGIT.search(render(best)):
            # "The maximum file size depends on your plan." reads on: "For the Standard plan the limit is 5 MB. ..."
            # (a number in some other note's sentence is no reason to cut the key sentence short)
            # the sentence the key one leans on, if taken, stays before it
            after, lead = _numbers_after(best, cands), chosen[:chosen.index(best) + 1] if best in chosen else [best]
            chosen = (lead + after + [c for c in chosen if c not in lead and c not in after])[:self.max_sentences]
        if howto and not any(c.steps for c in chosen):
            floor = max(self.threshold, best.score - STEPS_REACH)
            steps = next((c for c in cands if c.steps and c.score >= floor
                          and not any(_clash(c, d) for d in chosen)), None)
            if steps:  # the user asked how: the key fact, then the steps
                chosen = chosen[:self.max_sentences - 1] + [steps]
        said, dated = [render(c) for c in chosen], ""
        for asked, given, missing in ASKED_FOR:
            # "How much does a DOI cost?" answered by how DOIs are registered: the notes name it, not its amount
            if asked.match(question) and not any(given.search(t) for t in said):
                # "Mar 8, 2015: Released version 2.6.1. The yaml option has been removed ...": the date is said
                # right before or after the key sentence; or a daily note's title or a changelog's heading holds it
                near = _dated_neighbour(best, cands) if asked is WHEN else None
                if near is not None:
                    chosen = sorted([best, near], key=lambda c: c.start) + [c for c in chosen if c not in (best, near)]
                    chosen = chosen[:self.max_sentences]
                    continue
                dated = _dated(best) if asked is WHEN else ""
                if not dated:
                    return Answer(question, f"{NOT_FOUND} {missing}", [], self.name, False)
        return self._compose(question, chosen, hits, f"{dated}: " if dated else "")

    def _adds(self, question: str, c: Candidate, chosen: list[Candidate]) -> bool:
        """c holds a word of the question that no chosen sentence holds, nor c's note title (the subject, named);
        not a word of how the question asks ("how many", "which one": "Many amateur astronomers ..." adds nothing)."""
        said = set(self.stems(c.hit.chunk.title)).union(*(self.stems(d.plain) for d in chosen), self._asking)
        return bool((set(self.stems(question)) & set(self.stems(c.plain))) - said)

    def _written_by(self, question: str, cands: list[Candidate]) -> tuple[Candidate, str] | None:
        """For a question of who wrote a work the question names by its note's title, that note's best sentence
        and its author property; None otherwise (no such question, no such note, no author given)."""
        if not AUTHOR_Q.search(question):
            return None
        asked = set(self.stems(question))
        for c in cands:  # best first
            chunk, author = c.hit.chunk, str(c.hit.chunk.metadata.get("author") or "")
            title = set(self.stems(chunk.title))
            if author and title and title <= asked:
                return c, author
        return None

    def ranked(self, question: str, hits: list[Hit]) -> list[Candidate]:
        """Every candidate answer in the hits, scored, best first."""
        q = classify(question)
        seen: dict[tuple[str, int, int], Candidate] = {}
        for hit in hits:
            for c in candidates(hit, q):
                # overlapping chunks repeat sentences (a PDF's offsets count from its page)
                seen.setdefault((hit.chunk.source, hit.chunk.page, c.start, c.end), c)
        cands = list(seen.values())
        texts = [render(c) for c in cands]
        # steps are embedded under their heading ("Install a new theme"), which says what they achieve
        seen_as = [f"{_leaf(c.hit.chunk, c.start)}\n{t}".lstrip() if c.steps else t
                   for c, t in zip(cands, texts, strict=True)]
        places = sorted({x for c in cands for x in (c.hit.chunk.title, _leaf(c.hit.chunk, c.start)) if x})
        parts = [(n, p) for n, c in enumerate(cands) if not c.steps for p in clauses(texts[n])]
        # a sentence is read with its note's title too when the question names the note and the sentence does not:
        # "I will soon be visiting China" in "1972 State of the Union — Richard Nixon" answers "Which countries was
        # Nixon about to visit?", "331,918 (July 2015 est.)" in "Iceland" how many live in Iceland
        named = set(self.stems(" ".join(names_in(question))))
        parts += [(n, f"{c.hit.chunk.title}: {texts[n]}") for n, c in enumerate(cands)
                  if named and not c.steps and (named & set(self.stems(c.hit.chunk.title))) - set(self.stems(texts[n]))]
        vecs = np.asarray(self.embedder.embed([question] + seen_as + places + [p for _, p in parts]))
        qv, qw = vecs[0], set(self.stems(question))
        near = dict(zip(places, (vecs[1 + len(texts):1 + len(texts) + len(places)] @ qv).tolist(), strict=True))
        clause_sim: dict[int, float] = {}
        for (n, _), v in zip(parts, vecs[1 + len(texts) + len(places):], strict=True):
            clause_sim[n] = max(clause_sim.get(n, -1.0), float(v @ qv))
        for n, (c, v, t) in enumerate(zip(cands, vecs[1:1 + len(texts)], texts, strict=True)):
            c.vec, c.sim = v, max(float(v @ qv), clause_sim.get(n, -1.0))
            ch = c.hit.chunk
            if q.howto and c.steps and 2 * (c.end - c.start) >= ch.end - ch.start:
                c.sim = max(c.sim, c.hit.score)  # most of the passage: its own match (read with its heading) counts
            # a heading named like the question
            context = max(near.get(ch.title, 0.0), near.get(_leaf(ch, c.start), 0.0))
            said = [plain(p) for p in c.parts if not is_fragment(p) or plain(p).endswith(":")]  # a bare name: nothing
            c.overlap = len(qw & set(self.stems(" ".join(said)))) / max(1, len(qw))
            c.base = c.sim + 0.15 * c.overlap + 0.03 * c.hit.score - (0.08 if len(words(t)) < 5 else 0.0)
            c.score = c.base + PASSAGE_RANK / c.hit.rank
            if q.term and not c.steps and defines(c.parts[0].text, q):
                c.score += 0.15
            if q.acronym and not c.steps and spells_out(c.parts[0].text, q.acronym):
                c.score += EXPANSION_BONUS
                c.base = max(c.base, self.threshold)  # it answers, however unlike the question it reads
            if q.howto and (procedural(c.parts) if c.steps else INSTRUCTION.match(t)):
                c.score += HOWTO_BONUS
            # "You can also ..." adds to an answer rather than leading it; a question in the notes asks, not answers
            c.score -= 0.05 * bool(ALTERNATIVE.match(t)) + 0.1 * t.endswith("?")
            c.score += CONTEXT_WEIGHT * max(0.0, context - CONTEXT_FLOOR)
            if q.quantity and DIGIT.search(t):
                c.score += 0.08
        if q.howto:  # a step is best read within its steps: the list scores as its best step
            for c in (c for c in cands if c.steps):
                inner = [d.score for d in cands if not d.steps and same_place(d.hit.chunk, c.hit.chunk)
                         and c.start <= d.start < c.end]
                c.score = max([c.score, *(x + 0.01 for x in inner)])
        return sorted(cands, key=lambda c: -c.score)

    def _compose(self, question: str, chosen: list[Candidate], hits: list[Hit], lead: str = "") -> Answer:
        """The chosen sentences, grouped by passage, each group cited; after a lead from the note's title, heading or
        properties (the date a daily note is named by, a book's author), if any."""
        groups = passages([(c.hit.chunk, c.start, c.end) for c in chosen], [h.chunk for h in hits])
        parts, cits = [], []
        for n, (chunk, members) in enumerate(groups, start=1):
            text, group = "", [chosen[i] for i in members]
            for c in group:  # a list item among other sentences keeps its bullet
                body = ("- " if len(group) > 1 and c.parts[0].kind == "item" and not c.steps else "") + render(c)
                joiner = "\n" if text and ("\n" in text or c.parts[0].kind in ("item", "code")) else " "
                text = f"{text}{joiner}{body}" if text else body
            cits.append(citation(n, chunk, span_in(chunk, group[0].start, group[-1].end)))
            parts.append(f"{escape_markers(text)} [{n}]")
        out = escape_markers(lead) + parts[0]
        for p in parts[1:]:
            out += ("\n" if "\n" in out or "\n" in p else " ") + p  # lists keep their own lines
        return Answer(question, out, cits, self.name, True)


def _beside(first: Candidate, cands: list[Candidate], after: bool = True) -> Candidate | None:
    """The sentence right after (or right before) `first` in its passage, with no sentence of the chunk between."""
    chunk = first.hit.chunk
    same = [c for c in cands if c.hit.chunk.id == chunk.id and not c.steps]
    if after:
        nxt = min((c for c in same if c.start >= first.end), key=lambda c: c.start, default=None)
        return nxt if nxt is not None and follows(chunk, first.end, nxt.start) else None
    prev = max((c for c in same if c.end <= first.start), key=lambda c: c.end, default=None)
    return prev if prev is not None and follows(chunk, prev.end, first.start) else None


def _leaning_on(first: Candidate, cands: list[Candidate]) -> Candidate | None:
    """The sentence right after `first` in its passage, if it leans back on it."""
    nxt = _beside(first, cands)
    return nxt if nxt is not None and LEANS_BACK.search(render(nxt)) else None


def _leant_on(first: Candidate, cands: list[Candidate]) -> Candidate | None:
    """The sentence right before `first` in its passage, if `first` leans back on it ("That tribe ...", "It ...")."""
    return None if first.steps or not LEANS_BACK.search(render(first)) else _beside(first, cands, after=False)


def _numbers_after(first: Candidate, cands: list[Candidate], most: int = 2) -> list[Candidate]:
    """The sentences right after `first` in its passage that hold a number, read on while they follow."""
    out: list[Candidate] = []
    while len(out) < most and (c := _beside(out[-1] if out else first, cands)) is not None and DIGIT.search(render(c)):
        out.append(c)
    return out


def _dated_neighbour(first: Candidate, cands: list[Candidate]) -> Candidate | None:
    """The sentence right before `first` in its passage, or else right after it, if it holds a date."""
    return next((c for c in (_beside(first, cands, after=False), _beside(first, cands))
                 if c is not None and DATE.search(render(c))), None)


def _clash(c: Candidate, d: Candidate) -> bool:
    """Overlapping spans, or saying the same thing again."""
    if same_place(c.hit.chunk, d.hit.chunk) and c.start < d.end and d.start < c.end:
        return True
    a, b = words(c.plain), words(d.plain)
    return len(a & b) / max(1, len(a | b)) > 0.5 or float(c.vec @ d.vec) > 0.9


def _reads_on(c: Candidate, d: Candidate) -> bool:
    """c comes right after d in the same chunk, with nothing in between."""
    return c.hit.chunk.id == d.hit.chunk.id and d.start < c.start and follows(c.hit.chunk, d.end, c.start)


def _neighbours(c: Candidate, d: Candidate) -> bool:
    """One follows the other in the same chunk with nothing in between."""
    a, b = (c, d) if c.start < d.start else (d, c)
    return c.hit.chunk.id == d.hit.chunk.id and follows(c.hit.chunk, a.end, b.start)
