"""Theme and usage-scenario suggester: keyword rules plus a TF-IDF character n-gram model.

The two governed axes (business theme, usage scenario) are vocabularies of terms, each with keywords.
For one dataset the suggester scores every term by

- **rules**: the term's keywords found in the title (weight 3), the tags (2), or the description and
  field names (1), capped, so a keyword in the title alone is a strong signal;
- **model** (when trained): cosine similarity between the dataset's TF-IDF vector over character
  unigrams and bigrams (no word segmentation: Chinese text is cut into characters) and the centroid of
  the datasets already classified under that term; the nearest of them is named in the reason.

and returns the best terms with the score and a reason in Chinese and English. A suggestion is only a
proposal: a steward accepts or corrects it, and the corrected datasets become training data.
Pure Python, no Django.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

RULE_CAP = 6.0  # rule points at which the rule part of the score is full
RULE_WEIGHT = 0.2  # share of the rule part when a model is present (chosen on a validation split of the training part)
MIN_SCORE = 0.05  # below this nothing is suggested


@dataclass(frozen=True)
class Term:
    """One term of a vocabulary (e.g. theme TRAN 交通) with the keywords its rule looks for."""

    code: str
    label: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    """The text of a dataset the suggester reads (the owning agency is deliberately not part of it)."""

    key: str
    title: str
    keywords: tuple[str, ...] = ()
    description: str = ""
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suggestion:
    """A proposed term with its score (0..1) and why."""

    code: str
    score: float
    reason: str
    reason_zh: str


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower().replace("台", "臺")


def _features(doc: Document) -> Counter[str]:
    """Character unigrams and bigrams of letter/digit runs; the title and tags count twice."""
    counts: Counter[str] = Counter()
    parts = [(doc.title, 2), (" ".join(doc.keywords), 2), (doc.description, 1), (" ".join(doc.fields), 1)]
    for text, weight in parts:
        run: list[str] = []
        for char in _fold(text) + " ":
            if char.isalnum():
                run.append(char)
                continue
            for i, c in enumerate(run):
                counts[c] += weight
                if i + 1 < len(run):
                    counts[c + run[i + 1]] += weight
            run = []
    return counts


def _normalise(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {k: v / norm for k, v in vector.items()} if norm else {}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(k, 0.0) for k, v in a.items())


class Model:
    """TF-IDF (sublinear tf, smoothed idf) nearest-centroid model over labelled documents."""

    def __init__(self, labelled: Iterable[tuple[Document, str]]):
        items = [(doc, code, _features(doc)) for doc, code in labelled]
        self.size = len(items)
        df: Counter[str] = Counter()
        for _doc, _code, feats in items:
            df.update(feats.keys())
        self._idf = {f: math.log((1 + self.size) / (1 + n)) + 1.0 for f, n in df.items()}
        self._titles: list[str] = []
        self._labels: list[str] = []
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)  # feature → (example, weight)
        sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for doc, code, feats in items:
            vector = self.vector_of(feats)
            index = len(self._titles)
            self._titles.append(doc.title)
            self._labels.append(code)
            for k, v in vector.items():
                sums[code][k] += v
                self._postings[k].append((index, v))
        self.centroids = {code: _normalise(dict(total)) for code, total in sums.items()}

    def vector_of(self, feats: Counter[str]) -> dict[str, float]:
        """The unit TF-IDF vector of a document's features (features unseen in training are dropped)."""
        idf = self._idf
        return _normalise({f: (1.0 + math.log(n)) * idf[f] for f, n in feats.items() if f in idf})

    def similarities(self, vector: dict[str, float]) -> dict[str, float]:
        """Cosine similarity of a document vector to each class centroid."""
        return {code: _cosine(vector, centroid) for code, centroid in self.centroids.items()}

    def nearest(self, vector: dict[str, float]) -> dict[str, tuple[str, float]]:
        """Per class, the most similar training document: code → (title, similarity).

        Features found in more than a quarter of the training documents are skipped: they say little
        about which document is nearest and would cost most of the time.
        """
        scores: dict[int, float] = defaultdict(float)
        common = max(self.size // 4, 1)
        for feature, weight in vector.items():
            postings = self._postings.get(feature, ())
            if len(postings) > common:
                continue
            for index, other in postings:
                scores[index] += weight * other
        best: dict[str, tuple[str, float]] = {}
        for index, score in scores.items():
            code = self._labels[index]
            if code not in best or score > best[code][1]:
                best[code] = (self._titles[index], score)
        return best


def _rule_points(doc: Document, term: Term) -> tuple[float, list[tuple[str, str]]]:
    title, tags = _fold(doc.title), [_fold(k) for k in doc.keywords]
    body = _fold(doc.description + " " + " ".join(doc.fields))
    points, hits = 0.0, []
    for keyword in term.keywords:
        word = _fold(keyword)
        if not word:
            continue
        if word in title:
            points, hits = points + 3, [*hits, (keyword, "title")]
        elif any(word in tag for tag in tags):
            points, hits = points + 2, [*hits, (keyword, "tags")]
        elif word in body:
            points, hits = points + 1, [*hits, (keyword, "description")]
    return points, hits


_WHERE_ZH = {"title": "標題", "tags": "標籤", "description": "描述或欄位"}


def suggest(doc: Document, terms: Sequence[Term], model: Model | None = None, *, top: int = 3,
            exclude: frozenset[str] = frozenset(), explain: bool = True) -> tuple[Suggestion, ...]:
    """The best ``top`` terms for ``doc`` (never those in ``exclude``: already rejected), best first.

    ``explain`` off leaves the reasons empty (evaluation needs the codes only).
    """
    use_model = model is not None and model.size > 0
    vector = model.vector_of(_features(doc)) if use_model else {}
    similarities = model.similarities(vector) if use_model else {}
    scored = []
    for term in terms:
        if term.code in exclude:
            continue
        points, hits = _rule_points(doc, term)
        rule = min(points, RULE_CAP) / RULE_CAP
        similarity = max(similarities.get(term.code, 0.0), 0.0)
        score = RULE_WEIGHT * rule + (1 - RULE_WEIGHT) * similarity if similarities else rule
        if score >= MIN_SCORE:
            scored.append((score, term, hits, similarity))
    scored.sort(key=lambda item: (-item[0], item[1].code))
    out = []
    nearest_by_code = model.nearest(vector) if use_model and explain and scored else {}
    for score, term, hits, similarity in scored[:top]:
        if not explain:
            out.append(Suggestion(term.code, round(score, 4), "", ""))
            continue
        reasons, reasons_zh = [], []
        if hits:
            reasons.append("keywords " + ", ".join(f"{k} ({where})" for k, where in hits[:4]))
            reasons_zh.append("關鍵字" + "、".join(f"「{k}」（{_WHERE_ZH[where]}）" for k, where in hits[:4]))
        if similarity > 0:
            nearest = nearest_by_code.get(term.code)
            tail = f"; nearest: {nearest[0]}" if nearest else ""
            tail_zh = f"；最相近：{nearest[0]}" if nearest else ""
            reasons.append(f"similar to datasets classified as {term.label} ({similarity:.2f}){tail}")
            reasons_zh.append(f"與已分類為「{term.label}」的資料集相似（{similarity:.2f}）{tail_zh}")
        out.append(Suggestion(term.code, round(score, 4), "; ".join(reasons), "；".join(reasons_zh)))
    return tuple(out)


@dataclass(frozen=True)
class Evaluation:
    """Accuracy of the suggester on held-out labelled documents."""

    tested: int
    top1: int
    top3: int
    no_suggestion: int

    @property
    def top1_accuracy(self) -> float:
        return self.top1 / self.tested if self.tested else 0.0

    @property
    def top3_accuracy(self) -> float:
        return self.top3 / self.tested if self.tested else 0.0


def evaluate(train: Sequence[tuple[Document, str]], test: Sequence[tuple[Document, str]], terms: Sequence[Term],
             *, use_model: bool = True) -> Evaluation:
    """Train on ``train`` (unless ``use_model`` is off: rules only) and count hits on ``test``."""
    model = Model(train) if use_model and train else None
    top1 = top3 = none = 0
    for doc, code in test:
        codes = [s.code for s in suggest(doc, terms, model, top=3, explain=False)]
        none += not codes
        top1 += bool(codes) and codes[0] == code
        top3 += code in codes
    return Evaluation(len(test), top1, top3, none)
