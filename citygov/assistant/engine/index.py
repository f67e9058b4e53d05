"""BM25 over character n-grams with per-field weights, built once per bank version.

Each question and each alternate question is its own short document pointing at its entry (an entry
scores the best of its phrasings); keywords and the start of the answer are two more fields with lower
weights. Postings hold precomputed BM25 impacts (idf × saturated tf), so answering a question is a sum
over the postings of its few dozen tokens: no per-request rebuild and no per-request allocation beyond
the score table.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import Counter
from dataclasses import dataclass

from citygov.assistant.engine.bank import Entry
from citygov.assistant.engine.text import Synonyms, canonical, intents, tokens

K1 = 1.2
B = 0.75
ANSWER_PREFIX = 120


@dataclass(frozen=True)
class FieldWeights:
    """How much each field counts; the question field is the reference (1.0)."""

    question: float = 1.0
    keywords: float = 0.3
    # The answer text is not indexed by default: on the development sets it lost 2.6 points of top-1 and
    # it costs 60% of the postings (docs/benchmarks.md). A weight above 0 indexes the answer's start.
    answer: float = 0.0
    # Query-side weight of a character bigram relative to a unigram (1.5 and 2 were worse on the dev sets).
    bigram: float = 1.0
    # Query-side weight of an intent token (``?when``, ``?office`` …; 0 = intents not indexed). 3 was
    # best of 0.5-6 on the development sets.
    intent: float = 3.0
    # BM25 saturation and length normalisation of the question field
    k1: float = K1
    b: float = B


class FieldIndex:
    """Impact-ordered postings of one field: token → (document numbers, impacts)."""

    __slots__ = ("postings", "idf", "count", "avg_length", "k1", "b")

    def __init__(self, documents: list[list[str]], k1: float = K1, b: float = B):
        self.k1, self.b = k1, b
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
                idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[doc] / self.avg_length))
                for doc, tf in zip(docs, tfs, strict=True)
            ))
            self.postings[token] = (docs, impacts)
        del docs_of, tfs_of

    def max_idf(self) -> float:
        """The idf of a token seen in no document (what an unknown token is worth)."""
        return math.log(1 + (self.count + 0.5) / 0.5)

    def score(self, query: dict[str, float]) -> dict[int, float]:
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

    def self_score(self, query: Counter, weight: dict[str, float] | None = None) -> float:
        """The score a document made of exactly the query would get: the scale for confidence.

        ``weight`` (token → query-side weight, default 1) is the same weighting :meth:`score` was given.
        """
        length = sum(query.values())
        k1, b = self.k1, self.b
        norm = k1 * (1 - b + b * length / self.avg_length)
        total = 0.0
        for token, count in query.items():
            idf = self.idf.get(token, self.max_idf())
            total += (weight[token] / count if weight else 1.0) * idf * count * (k1 + 1) / (count + norm)
        return total


def _kind_weight(token: str, weights: FieldWeights) -> float:
    if token[0] == "?":
        return weights.intent
    if len(token) == 2 and ("\u3400" <= token[0] <= "\u9fff" or "\uf900" <= token[0] <= "\ufaff"):
        return weights.bigram
    return 1.0


class BankIndex:
    """The searchable form of a bank: published entries, the three field indexes and the synonyms."""

    def __init__(self, entries: list[Entry], synonyms: Synonyms, weights: FieldWeights | None = None,
                 version: str = ""):
        self.version = version
        self.synonyms = synonyms
        self.weights = weights or FieldWeights()
        published = [entry for entry in entries if entry.status == "published"]
        # Entries whose questions are the same text once normalised (the same FAQ posted by two agencies,
        # or re-posted for the next year's event) cannot be told apart by any question: only one of them,
        # the latest valid (else the last listed), is served, with the others' alternates, so the top
        # five are five different questions. ``same_as`` maps each left-out id to the one served.
        groups: dict[str, list[Entry]] = {}
        for entry in published:
            groups.setdefault(canonical(entry.question, user_text=False).replace(" ", ""), []).append(entry)
        self.same_as: dict[str, str] = {}
        served: dict[str, tuple[Entry, list[Entry]]] = {}
        for group in groups.values():
            keep = max(enumerate(group), key=lambda item: (item[1].valid_from, item[0]))[1]
            served[keep.faq_id] = (keep, [entry for entry in group if entry is not keep])
            for entry in group:
                if entry is not keep:
                    self.same_as[entry.faq_id] = keep.faq_id
        self.entries = [entry for entry in published if entry.faq_id in served]
        phrasing_owner: list[int] = []
        phrasings: list[list[str]] = []
        keyword_docs: list[list[str]] = []
        answer_docs: list[list[str]] = []
        for number, entry in enumerate(self.entries):
            others = served[entry.faq_id][1]
            texts = dict.fromkeys((entry.question, *entry.alternates, *(alt for o in others for alt in o.alternates)))
            for text in texts:
                phrasings.append(self.analyse(text, user_text=False))
                phrasing_owner.append(number)
            keyword_docs.append(self.analyse(" ".join(entry.keywords), user_text=False))
            if self.weights.answer:
                answer_docs.append(self.analyse(entry.answer[:ANSWER_PREFIX], user_text=False))
        self.phrasing_owner = array("I", phrasing_owner)
        self.questions = FieldIndex(phrasings, self.weights.k1, self.weights.b)
        self.keywords = FieldIndex(keyword_docs)
        self.answers = FieldIndex(answer_docs)

    def served_id(self, faq_id: str) -> str:
        """The id answered in place of ``faq_id`` (itself unless it duplicates another entry's question)."""
        return self.same_as.get(faq_id, faq_id)

    def analyse(self, text: str, *, user_text: bool = True) -> list[str]:
        """Canonical form → synonyms → tokens: the one path for both the bank and questions."""
        text = self.synonyms.apply(canonical(text, user_text=user_text))
        found = tokens(text)
        if self.weights.intent:
            found.extend(intents(text))
        return found

    def search(self, query_tokens: list[str], limit: int = 5) -> tuple[list[tuple[int, float]], float]:
        """Top ``limit`` (entry number, score) pairs and the query's self-score (the confidence scale)."""
        query = Counter(query_tokens)
        if not query:
            return [], 0.0
        weights = self.weights
        # token → count × its kind's weight (bigrams carry word order, unigrams only the characters)
        weighted = {token: count * _kind_weight(token, weights) for token, count in query.items()}
        totals: dict[int, float] = {}
        for phrasing, score in self.questions.score(weighted).items():
            owner = self.phrasing_owner[phrasing]
            if score > totals.get(owner, 0.0):
                totals[owner] = score
        if weights.question != 1.0:
            totals = {owner: score * weights.question for owner, score in totals.items()}
        for field, weight in ((self.keywords, weights.keywords), (self.answers, weights.answer)):
            if weight:
                for owner, score in field.score(weighted).items():
                    totals[owner] = totals.get(owner, 0.0) + weight * score
        best = heapq.nsmallest(limit, totals.items(), key=lambda item: (-item[1], item[0]))
        return best, weights.question * self.questions.self_score(query, weighted)

    @property
    def size(self) -> int:
        """Number of postings over all fields (reported by the metrics endpoint)."""
        return sum(len(docs) for index in (self.questions, self.keywords, self.answers)
                   for docs, _ in index.postings.values())
