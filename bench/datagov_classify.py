"""Benchmark: the theme suggester (rules + TF-IDF character n-grams) — accuracy and speed.

Accuracy: the silver-labelled Taoyuan set (``citygov/datagov/data/taoyuan_theme_labels.csv``, labels from
the owning agency where its mandate is one theme), split 70/30 by identifier; rules alone are the
baseline. Speed: suggestions (with reasons) for the 1,444 Taoyuan datasets repeated to 6,000, the
nightly job's engine work at data.gov.tw size; the baseline is the rules alone over the same documents.
Run: .venv/bin/python bench/datagov_classify.py
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import platform
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "citygov" / "datagov" / "data"
ROWS = 6_000  # a tenth of data.gov.tw's size; the rate scales linearly


def main() -> None:
    from citygov.datagov.engine import catalog, classify, vocabulary

    with (DATA / "taoyuan_theme_labels.csv").open(encoding="utf-8") as handle:
        labels = {row["編號"]: row["theme"] for row in csv.DictReader(handle)}
    with (DATA / "taoyuan_tycg_catalog_2018-07-07.csv").open("rb") as handle:
        entries = [e for e, _error in catalog.CatalogReader(handle) if e is not None]
    docs = [classify.Document(e.source_id, e.title, tuple(e.keywords), e.description,
                              tuple(f.name for f in e.fields)) for e in entries]
    terms = [classify.Term(t.code, t.label_zh, t.keywords) for t in vocabulary.THEMES]
    data = [(d, labels[d.key]) for d in docs if d.key in labels]
    train = [d for d in data if int(d[0].key) % 10 < 7]
    test = [d for d in data if int(d[0].key) % 10 >= 7]
    rules = classify.evaluate(train, test, terms, use_model=False)
    both = classify.evaluate(train, test, terms)
    start = time.perf_counter()
    model = classify.Model(train)
    train_s = time.perf_counter() - start
    work = [docs[i % len(docs)] for i in range(ROWS)]
    start, cpu = time.perf_counter(), time.process_time()
    for doc in work:
        classify.suggest(doc, terms)
    rules_s, rules_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    for doc in work:
        classify.suggest(doc, terms, model)
    model_s, model_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"date {dt.date.today()}, {platform.machine()}, CPython {platform.python_version()}, {os.cpu_count()} cores, "
          f"load average (1 min) {os.getloadavg()[0]:.1f}")
    print(f"labelled {len(data)}: train {len(train)}, test {len(test)}")
    print(f"rules only      top-1 {rules.top1}/{rules.tested} = {rules.top1_accuracy:.1%}, "
          f"top-3 {rules.top3_accuracy:.1%}, no suggestion {rules.no_suggestion}")
    print(f"rules + model   top-1 {both.top1}/{both.tested} = {both.top1_accuracy:.1%}, "
          f"top-3 {both.top3_accuracy:.1%}, no suggestion {both.no_suggestion}")
    print(f"train model on {len(train)}: {train_s:.2f} s")
    print(f"suggest {ROWS:,} (rules only, baseline): wall {rules_s:.1f} s, cpu {rules_cpu:.1f} s")
    print(f"suggest {ROWS:,} (rules + model, reasons): wall {model_s:.1f} s, cpu {model_cpu:.1f} s "
          f"(ratio {model_s / rules_s:.1f}x); per dataset {1000 * model_cpu / ROWS:.2f} ms cpu, "
          f"60,000 in about {60 * model_cpu / ROWS * 1000:.0f} s cpu")


if __name__ == "__main__":
    main()
