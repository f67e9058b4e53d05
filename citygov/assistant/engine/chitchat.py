"""Small talk: a fixed set of greetings, thanks and questions about the assistant, with one polite persona.

Only a question that is small talk *as a whole* (after normalisation) is caught, so 「謝謝，請問怎麼申請…」
still goes to retrieval.
"""

from __future__ import annotations

import re

# (intent, pattern over canonical text, reply in zh-Hant). Replies are the assistant's content, like the
# FAQ answers, so they are Chinese data rather than interface strings.
INTENTS: tuple[tuple[str, str, str], ...] = (
    ("greeting", r"(你好|您好|哈囉|嗨|hi|hello|hey|早安|午安|晚安|安安)+( 你好| 您好)?",
     "您好！我是市政常見問答小幫手，請直接輸入想問的市政問題，例如「如何申請敬老悠遊卡」。"),
    ("thanks", r"(謝謝|感謝|感恩|多謝|thanks|thank you|thx|3q)+(你|您|啦|喔)?",
     "不客氣，很高興能幫上忙！還有其他問題歡迎繼續詢問。"),
    ("bye", r"(再見|掰掰|拜拜|bye|byebye|goodbye)+",
     "感謝您的使用，祝您順心！"),
    ("identity", r"(你|您)(是誰|叫什麼名字|是機器人嗎|是真人嗎|是ai嗎)|who are you|are you a bot",
     "我是市政常見問答小幫手，會從市府的常見問答中找答案；需要真人協助請撥 1999 市民當家熱線。"),
    ("laugh", r"(哈)+|(呵)+|(嘻)+|lol|(笑死)+|ok|好的|好|嗯+|喔+|哦+",
     "如果有市政相關問題，請直接輸入，我會盡力幫您找答案。"),
    ("abuse", r"(笨蛋|白癡|廢物|爛|垃圾|stupid|idiot)(機器人)?",
     "很抱歉沒有幫上忙。您可以換個說法再問一次，或撥打 1999 市民當家熱線由專人協助。"),
)
_COMPILED = tuple((intent, re.compile(rf"^(?:{pattern})$"), reply) for intent, pattern, reply in INTENTS)


def detect(canonical_text: str) -> tuple[str, str] | None:
    """``(intent, reply)`` when the whole canonical question is small talk, else ``None``.

    >>> detect("你好")[0], detect("謝謝你")[0], detect("你好 請問停車費怎麼繳") is None
    ('greeting', 'thanks', True)
    """
    text = canonical_text.strip()
    if not text:
        return None
    for intent, pattern, reply in _COMPILED:
        if pattern.match(text):
            return intent, reply
    return None
