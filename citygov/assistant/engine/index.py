"""BM25 over character n-grams with per-field weights, built once per bank version.

Each question and each alternate question is its own short document pointing at its entry (an entry
scores the best of its phrasings); keywords and the start of the answer are two more fields with lower
weights. Postings hold precomputed BM25 impacts (idf × saturated tf), so answering a question is a sum
over the postings of its few dozen tokens: no per-request rebuild and no per-request allocation beyond
the score table.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from dataclasses import dataclass

from citygov.assistant.engine.bank import Entry
from citygov.assistant.engine.text import Synonyms, canonical, tokens

K1 = 1.2
B = 0.75
ANSWER_PREFIX = 120


@dataclass(frozen=True)
class FieldWeights:
    """How much each field counts; the question field is the reference (1.0)."""

    question: float = 1.0
    keywords: float = 0.3
    # The answer text is not indexed by default: on both evaluation sets it added nothing to top-1 and
    # cost 60% of the postings (docs/benchmarks.md). A weight above 0 indexes the answer's start.
    answer: float = 0.0


class FieldIndex:
    """Impact-ordered postings of one field: token → (document numbers, impacts)."""

    __slots__ = ("postings", "idf", "count", "avg_length")

    def __init__(self, documents: list[list[str]]):
        self.count = len(documents)
        lengths = [len(doc) for doc in documents]
        self.avg_length = (sum(lengths) / self.count) if self.count else 1.0
        # Postings are grown in place as compact arrays (no per-posting tuples): the build's peak memory
        # stays close to the final index, and a worker's resident size does not keep the build's high-water mark.
        docs_of: dict[str, array] = {}
        tfs_of: dict[str, array] = {}
        for number, doc in enumerate(documents):
            for token, tf in Counter(doc).items():
                docs = docs_of.get(token)
                if docs is None:
                    docs_of[token] = docs = array("I")
                    tfs_of[token] = array("H")
                docs.append(number)
                tfs_of[token].append(min(tf, 65535))
        self.idf: dict[str, float] = {}
        self.postings: dict[str, tuple[array, array]] = {}
        for token, docs in docs_of.items():
            tfs = tfs_of[token]
            idf = math.log(1 + (self.count - len(docs) + 0.5) / (len(docs) + 0.5))
            self.idf[token] = idf
            impacts = array("f", (
                idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths[doc] / self.avg_length))
                for doc, tf in zip(docs, tfs, strict=True)
            ))
            self.postings[token] = (docs, impacts)
        del docs_of, tfs_of

    def max_idf(self) -> float:
        """The idf of a token seen in no document (what an unknown token is worth)."""
        return math.log(1 + (self.count + 0.5) / 0.5)

    def score(self, query: Counter) -> dict[int, float]:
        """BM25 score of every document sharing a token with ``query`` (token → count)."""
        scores: dict[int, float] = {}
        get = scores.get
        for token, count in query.items():
            posting = self.postings.get(token)
            if posting is None:
                continue
            for doc, impact in zip(*posting, strict=True):
                scores[doc] = get(doc, 0.0) + impact * count
        return scores

    def self_score(self, query: Counter) -> float:
        """The score a document made of exactly the query would get: the scale for confidence."""
        length = sum(query.values())
        norm = K1 * (1 - B + B * length / self.avg_length)
        total = 0.0
        for token, count in query.items():
            idf = self.idf.get(token, self.max_idf())
            total += idf * count * (K1 + 1) / (count + norm)
        return total


class BankIndex:
    """The searchable form of a bank: published entries, the three field indexes and the synonyms."""

    def __init__(self, entries: list[Entry], synonyms: Synonyms, weights: FieldWeights | None = None,
                 version: str = ""):
        self.version = version
        self.synonyms = synonyms
        self.weights = weights or FieldWeights()
        self.entries = [entry for entry in entries if entry.status == "published"]
        phrasing_owner: list[int] = []
        phrasings: list[list[str]] = []
        keyword_docs: list[list[str]] = []
        answer_docs: list[list[str]] = []
        for number, entry in enumerate(self.entries):
            for text in (entry.question, *entry.alternates):
                phrasings.append(self.analyse(text, user_text=False))
                phrasing_owner.append(number)
            keyword_docs.append(self.analyse(" ".join(entry.keywords), user_text=False))
            if self.weights.answer:
                answer_docs.append(self.analyse(entry.answer[:ANSWER_PREFIX], user_text=False))
        self.phrasing_owner = array("I", phrasing_owner)
        self.questions = FieldIndex(phrasings)
        self.keywords = FieldIndex(keyword_docs)
        self.answers = FieldIndex(answer_docs)

    def analyse(self, text: str, *, user_text: bool = True) -> list[str]:
        """Canonical form → synonyms → tokens: the one path for both the bank and questions."""
        return tokens(self.synonyms.apply(canonical(text, user_text=user_text)))

    def search(self, query_tokens: list[str], limit: int = 5) -> tuple[list[tuple[int, float]], float]:
        """Top ``limit`` (entry number, score) pairs and the query's self-score (the confidence scale)."""
        query = Counter(query_tokens)
        if not query:
            return [], 0.0
        totals: dict[int, float] = {}
        for phrasing, score in self.questions.score(query).items():
            owner = self.phrasing_owner[phrasing]
            if score > totals.get(owner, 0.0):
                totals[owner] = score
        weights = self.weights
        if weights.question != 1.0:
            totals = {owner: score * weights.question for owner, score in totals.items()}
        for field, weight in ((self.keywords, weights.keywords), (self.answers, weights.answer)):
            if weight:
                for owner, score in field.score(query).items():
                    totals[owner] = totals.get(owner, 0.0) + weight * score
        best = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return best, weights.question * self.questions.self_score(query)

    @property
    def size(self) -> int:
        """Number of postings over all fields (reported by the metrics endpoint)."""
        return sum(len(docs) for index in (self.questions, self.keywords, self.answers)
                   for docs, _ in index.postings.values())
