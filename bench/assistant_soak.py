"""Benchmark: memory of a serving process (Django + engine) and its growth over 100,000 questions.

Starts one child process per worker (default 2, like a small gunicorn) with Django set up and the
assistant's bank index built the way a worker builds it from a bank file (``citygov.assistant.serving.build``), from a
6,500-entry bank (the Taipei entries replicated with varied wording, written to a temporary CSV). Each
child answers the paraphrase queries round-robin until it has answered ``--questions`` of them and
samples its resident set size (VmRSS) ten times (every tenth of the run), and times every question
(wall and CPU; the latency arrays are allocated before the first sample so they are not counted as
growth). Queries: every labelled query file of the tests (rule-made, hand-written and held-out sets).
Targets (issue 8): under 250 MB resident per serving process, less than 5% growth over 100,000
questions, p95 < 20 ms per question (lexical). No database writes (the engine path
only: the conversation log is a database concern, not the process's memory).
Run: .venv/bin/python bench/assistant_soak.py [--questions 100000] [--workers 2]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(questions: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citygov.settings")
    import django

    django.setup()
    before_index = rss_mb()
    from citygov.assistant import serving
    from citygov.assistant.engine.evaluate import read_queries
    from citygov.assistant.engine.retrieval import answer

    started = time.perf_counter()
    loaded = serving.build(serving.bank_path())  # what serving.current() builds from a bank file, without a database
    load_s = time.perf_counter() - started
    data = ROOT / "citygov/assistant/tests/data"
    queries = [q for name in ("paraphrases.csv", "handwritten.csv", "handwritten2.csv", "heldout.csv")
               for q, _ in read_queries(data / name)]
    walls = array("f", bytes(4 * questions))
    cpus = array("f", bytes(4 * questions))
    after_load = rss_mb()
    samples = []
    warm = 2000
    clock, cpu_clock = time.perf_counter, time.process_time
    for number in range(questions + warm):
        wall, cpu = clock(), cpu_clock()
        answer(loaded.index, queries[number % len(queries)], handoff_text=serving.handoff_text())
        if number >= warm:
            walls[number - warm] = (clock() - wall) * 1000
            cpus[number - warm] = (cpu_clock() - cpu) * 1000
        if number == warm - 1:
            samples.append((0, rss_mb()))
        elif number >= warm and (number - warm + 1) % max(1, questions // 10) == 0:
            samples.append((number - warm + 1, rss_mb()))
    def percentile(values, share):
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)

    print(json.dumps({"django_mb": round(before_index, 1), "loaded_mb": round(after_load, 1),
                      "load_s": round(load_s, 2), "entries": len(loaded.index.entries), "samples": samples,
                      "wall_ms": [percentile(walls, 0.5), percentile(walls, 0.95), percentile(walls, 0.99)],
                      "cpu_ms": [percentile(cpus, 0.5), percentile(cpus, 0.95), percentile(cpus, 0.99)]}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--child", action="store_true")
    options = parser.parse_args()
    if options.child:
        child(options.questions)
        return
    from assistant_engine import grow

    from citygov.assistant.engine.bank import read_bank
    from citygov.assistant.serving import DEFAULT_BANK

    big = grow(read_bank(DEFAULT_BANK).entries, 6500)
    with tempfile.TemporaryDirectory() as folder:
        bank = Path(folder) / "bank6500.csv"
        with bank.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=["faq_id", "question", "answer", "category", "source_dept", "keywords"])
            writer.writeheader()
            for entry in big:
                row = dataclasses.asdict(entry)
                writer.writerow({"faq_id": row["faq_id"], "question": row["question"], "answer": row["answer"],
                                 "category": row["category"], "source_dept": row["agency"],
                                 "keywords": "|".join(row["keywords"])})
        env = dict(os.environ, CITYGOV_ASSISTANT_BANK=str(bank),
                   CITYGOV_VAR_DIR=os.environ.get("CITYGOV_VAR_DIR", folder))
        started = time.perf_counter()
        workers = [subprocess.Popen([sys.executable, __file__, "--child", "--questions", str(options.questions)],
                                    env=env, stdout=subprocess.PIPE, text=True) for _ in range(options.workers)]
        results = [json.loads(worker.communicate()[0]) for worker in workers]
        elapsed = time.perf_counter() - started
    for number, result in enumerate(results, start=1):
        first, last = result["samples"][0][1], result["samples"][-1][1]
        peak = max(mb for _, mb in result["samples"])
        growth = 100 * (last - first) / first
        print(f"worker {number}: Django {result['django_mb']} MB; with the {result['entries']}-entry index "
              f"{result['loaded_mb']} MB (loaded in {result['load_s']} s); after warm-up {first:.1f} MB, after "
              f"{result['samples'][-1][0]:,} questions {last:.1f} MB (peak {peak:.1f}); growth {growth:+.2f}% "
              f"(targets < 250 MB: {'met' if peak < 250 else 'NOT met'}; < 5%: {'met' if growth < 5 else 'NOT met'})")
        print(f"  latency per question p50/p95/p99: wall {result['wall_ms']} ms, CPU {result['cpu_ms']} ms "
              f"(target p95 < 20 ms)")
        print("  samples (questions, MB): " + ", ".join(f"{n:,}:{mb:.1f}" for n, mb in result["samples"]))
    print(f"{options.workers} workers × {options.questions:,} questions in {elapsed:.0f} s")


if __name__ == "__main__":
    main()
