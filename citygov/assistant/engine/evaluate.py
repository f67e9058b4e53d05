"""Evaluation of the retrieval engine on a labelled query file (``query,expected_faq_id``; ``none`` =
out of scope): top-1, top-5, out-of-scope precision and recall at the thresholds, latency p50/p95."""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

from citygov.assistant.engine.index import BankIndex
from citygov.assistant.engine.retrieval import HANDOFF, Thresholds, answer

OUT_OF_SCOPE = "none"


@dataclass(frozen=True)
class Evaluation:
    """Figures of one run (rates 0–1, latencies in milliseconds)."""

    queries: int
    in_scope: int
    out_of_scope: int
    top1: float
    top5: float
    # the same, counting only the exact id (a duplicate of the expected entry's question counts as a miss)
    top1_strict: float
    oos_precision: float
    oos_recall: float
    answered: float
    p50_ms: float
    p95_ms: float


def read_queries(path: Path | str) -> list[tuple[str, str]]:
    """``(query, expected)`` pairs; ``ValueError`` naming the line for a row without both columns."""
    pairs = []
    with Path(path).open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        if not reader.fieldnames or not {"query", "expected_faq_id"} <= set(reader.fieldnames):
            raise ValueError("the header needs query and expected_faq_id columns / 標題列須有 query 與 expected_faq_id 欄")
        for row in reader:
            query, expected = (row.get("query") or "").strip(), (row.get("expected_faq_id") or "").strip()
            if not query or not expected:
                raise ValueError(f"line {reader.line_num}: query and expected_faq_id are required / 第 {reader.line_num} 行缺欄位")
            pairs.append((query, expected))
    return pairs


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def evaluate(index: BankIndex, pairs: list[tuple[str, str]], thresholds: Thresholds | None = None) -> Evaluation:
    """Run every query through :func:`answer` and score it against its expected id."""
    top1 = top5 = strict = in_scope = oos = true_oos = predicted_oos = answered = 0
    latencies = []
    for query, expected in pairs:
        started = time.perf_counter()
        reply = answer(index, query, top=5, thresholds=thresholds)
        latencies.append((time.perf_counter() - started) * 1000)
        ids = [hit.entry.faq_id for hit in reply.hits]
        handed_off = reply.decision == HANDOFF
        predicted_oos += handed_off
        if expected == OUT_OF_SCOPE:
            oos += 1
            true_oos += handed_off
            continue
        in_scope += 1
        answered += not handed_off
        # an entry whose question is the same text as the expected one's is served in its place
        served = index.served_id(expected)
        top1 += bool(ids) and ids[0] == served
        top5 += served in ids[:5]
        strict += bool(ids) and ids[0] == expected
    return Evaluation(
        queries=len(pairs), in_scope=in_scope, out_of_scope=oos,
        top1=round(top1 / in_scope, 4) if in_scope else 0.0,
        top5=round(top5 / in_scope, 4) if in_scope else 0.0,
        top1_strict=round(strict / in_scope, 4) if in_scope else 0.0,
        oos_precision=round(true_oos / predicted_oos, 4) if predicted_oos else 0.0,
        oos_recall=round(true_oos / oos, 4) if oos else 0.0,
        answered=round(answered / in_scope, 4) if in_scope else 0.0,
        p50_ms=round(_percentile(latencies, 0.5), 3), p95_ms=round(_percentile(latencies, 0.95), 3),
    )
