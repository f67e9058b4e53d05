"""Regenerate paraphrases.csv from the Taipei bank (deterministic; run from the repository root).

    .venv/bin/python citygov/assistant/tests/data/make_paraphrases.py

Each sampled entry's title is rewritten by one rule: colloquial framing, Simplified characters, a typo
(dropped or swapped character), a partial/keyword-style query, or personal data embedded in the
question. The out-of-scope questions are written by hand in OUT_OF_SCOPE.
"""

from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path

import opencc

HERE = Path(__file__).resolve().parent
BANK = HERE.parents[1] / "data" / "taipei_faq.csv"
OUT_OF_SCOPE = (
    "今天天氣如何", "明天會下雨嗎", "推薦我一家好吃的牛肉麵", "幫我寫一首詩", "股票明天會漲嗎", "比特幣現在多少錢",
    "你覺得哪個政黨比較好", "我女朋友生氣了怎麼辦", "iphone 要怎麼截圖", "電腦中毒了怎麼辦", "幫我訂一張去東京的機票",
    "世界上最高的山是哪座", "一加一等於多少", "講個笑話", "哈利波特的作者是誰", "怎麼煮紅燒肉", "附近有什麼好玩的夜店",
    "樂透號碼給我幾組", "what is the meaning of life", "how do i bake a cake", "美國總統是誰", "貓為什麼會呼嚕",
    "我想減肥有什麼方法", "推薦好看的韓劇", "wifi 密碼忘記了怎麼辦", "linux 怎麼安裝 python", "幫我翻譯這句英文",
    "我可以跟你約會嗎", "月亮離地球多遠", "你喜歡吃什麼", "周杰倫的新歌叫什麼", "哪家手機比較好用", "帶我去吃火鍋",
    "恐龍是怎麼滅絕的", "什麼星座最配獅子座", "如何讓頭髮長得快", "玩遊戲卡頓怎麼辦", "请问明天股市会涨吗",
)
PREFIXES = ("請問", "請問一下", "我想問", "想知道", "欸", "那個", "不好意思", "")
SUFFIXES = ("", "嗎", "呢", "啊", "?", "阿")
PII = ("我的身分證是A123456789，", "我手機0912-345-678，", "我是王小明 a.wang@example.com，",
       "我住中山北路二段100號5樓，", "我的電話(02)2720-8889，", "居留證A800000014，")


def rewrite(question: str, rule: str, rng: random.Random, to_simplified) -> str:
    base = re.sub(r"^(請問|問：|Q：|Q:)", "", question).rstrip("？?。 ")
    if rule == "colloquial":
        text = base.replace("如何", rng.choice(("怎麼", "要怎麼", "怎樣"))).replace("為何", "是什麼")
        return rng.choice(PREFIXES) + text + rng.choice(SUFFIXES)
    if rule == "simplified":
        return to_simplified(base)
    if rule == "typo":
        chars = list(base)
        if len(chars) > 6:
            i = rng.randrange(1, len(chars) - 2)
            if rng.random() < 0.5:
                del chars[i]
            else:
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
        return "".join(chars)
    if rule == "partial":
        if len(base) <= 10:
            return base
        start = rng.randrange(0, len(base) // 4 + 1)
        return base[start:start + max(8, int(len(base) * 0.7))]
    return rng.choice(PII) + base


def main() -> None:
    rng = random.Random(20261122)
    to_simplified = opencc.OpenCC("t2s").convert
    with BANK.open(encoding="utf-8") as stream:
        rows = [row for row in csv.DictReader(stream)
                if row["same_question_ids"] == "" and "舊版複製" not in row["question"] and "?" not in row["question"]
                and len(row["question"]) >= 6]
    sample = rng.sample(rows, 280)
    rules = ("colloquial", "simplified", "typo", "partial", "personal_data")
    with (HERE / "paraphrases.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["query", "expected_faq_id", "kind"])
        for number, row in enumerate(sample):
            rule = rules[number % len(rules)]
            writer.writerow([rewrite(row["question"], rule, rng, to_simplified), row["faq_id"], rule])
        for query in OUT_OF_SCOPE:
            writer.writerow([query, "none", "out_of_scope"])
    print(json.dumps({"entries": len(sample), "out_of_scope": len(OUT_OF_SCOPE)}))


if __name__ == "__main__":
    main()
