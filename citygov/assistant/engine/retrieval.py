"""Answering a question from a bank index: calibrated confidence and the three decisions.

Confidence is the best entry's score divided by the score the question would get against a copy of
itself, so it is comparable across short and long questions (0 = nothing shared, 1 = the question is
an entry's wording). Bands: at or above ``answer_at`` the best entry is the answer; at or above
``suggest_at`` the top three are offered as "did you mean"; below that, or when nothing in the question
is known to the bank, the citizen is handed to the 1999 hotline. The default thresholds were chosen on
the paraphrase set in the tests (see docs/assistant.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from citygov.assistant.engine import chitchat
from citygov.assistant.engine.bank import Entry
from citygov.assistant.engine.index import BankIndex
from citygov.assistant.engine.masking import mask
from citygov.assistant.engine.text import canonical

ANSWER = "answer"
SUGGEST = "suggest"
HANDOFF = "handoff"
DEFAULT_HANDOFF = "很抱歉，目前找不到合適的答案。請撥打 1999 市民當家熱線（外縣市請撥 02-2720-8889），由專人為您服務。"


@dataclass(frozen=True)
class Thresholds:
    """Confidence bands (0–1)."""

    answer_at: float = 0.50
    suggest_at: float = 0.32


@dataclass(frozen=True)
class Hit:
    """One ranked entry."""

    entry: Entry
    score: float
    confidence: float


@dataclass(frozen=True)
class Reply:
    """What the assistant says to one question."""

    question_masked: str
    decision: str
    confidence: float
    hits: tuple[Hit, ...]
    chitchat: str | None = None
    reply_text: str = ""
    personal_data: tuple[str, ...] = ()

    @property
    def best(self) -> Hit | None:
        """The top hit, if any."""
        return self.hits[0] if self.hits else None


def answer(index: BankIndex, question: str, *, top: int = 5, thresholds: Thresholds | None = None,
           handoff_text: str = DEFAULT_HANDOFF) -> Reply:
    """Mask, normalise, detect small talk, retrieve and decide.

    ``reply_text`` is the answer (decision ``answer``), an introduction to the suggestions (``suggest``),
    the small-talk reply, or ``handoff_text``.
    """
    thresholds = thresholds or Thresholds()
    masked = mask(question)
    text = canonical(masked.text)
    small_talk = chitchat.detect(text)
    if small_talk is not None:
        return Reply(masked.text, HANDOFF, 0.0, (), chitchat=small_talk[0], reply_text=small_talk[1],
                     personal_data=masked.kinds)
    query_tokens = index.analyse(masked.text)
    ranked, scale = index.search(query_tokens, limit=max(top, 3))
    hits = tuple(
        Hit(index.entries[number], round(score, 4), round(min(1.0, score / scale), 4) if scale else 0.0)
        for number, score in ranked[:top]
    )
    confidence = hits[0].confidence if hits else 0.0
    if confidence >= thresholds.answer_at:
        decision, reply_text = ANSWER, hits[0].entry.answer
    elif confidence >= thresholds.suggest_at:
        decision, reply_text = SUGGEST, "您是不是想問以下問題？"
    else:
        decision, reply_text = HANDOFF, handoff_text
    return Reply(masked.text, decision, confidence, hits, reply_text=reply_text, personal_data=masked.kinds)
