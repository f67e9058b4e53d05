"""Demo traffic for the assistant: a fortnight of citizens' questions run through the real service.

The questions are typical of a municipal FAQ bot (colloquial, Simplified characters, English, small talk,
out-of-scope, and some with personal data in them — all synthetic: the ID and card numbers are the
published test numbers, the phone number is not assigned). They go through :func:`do_ask` with the
clock set to each one's moment, so the analytics page shows real decisions, masking and latency.
The Taipei FAQ bank is also imported into the database bank as one batch awaiting a second person's
review (the chat answers from the packaged file until someone approves it on the FAQ bank page).
Idempotent: nothing happens when any conversation exists.
"""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from citygov.assistant.models import Conversation, FaqEntry
from citygov.assistant.services import do_ask, do_import_bank, do_record_feedback
from citygov.assistant.serving import DEFAULT_BANK

DEMO_QUESTIONS = (
    "路邊停車費要怎麼繳", "停车费可以用悠游卡缴吗", "敬老卡怎麼申請", "愛心悠遊卡遺失怎麼辦",
    "我的身分證A123456789，想問國民年金給付有幾種", "老人日間照顧服務怎麼申請", "How do I pay the parking fee?",
    "你好", "謝謝", "今天天氣如何", "推薦我一家好吃的牛肉麵", "垃圾車幾點來", "檢舉交通違規有時效嗎",
    "違規停車要打哪支電話檢舉", "手機0912-345-678 想問托嬰中心收托資格", "公辦民營托嬰中心怎麼申請",
    "印鑑證明要怎麼辦", "我住中山北路二段100號5樓，房屋稅怎麼繳", "地價稅什麼時候開徵", "失業了可以領什麼補助",
    "如何申請急難救助", "身心障礙證明遺失怎麼補發", "狗狗走失了怎麼辦", "寵物登記要去哪裡辦", "i-Voting 是什麼",
    "卡號4111 1111 1111 1111 被盜刷怎麼辦", "哈哈", "勞工加班費怎麼算", "颱風天出勤有加班費嗎", "市民卡怎麼申請",
)


def seed_assistant_demo(admin) -> int:
    """Ask the demo questions over the last 14 days (about 6 a day); returns the number of turns."""
    if Conversation.objects.exists():
        return 0
    if not FaqEntry.objects.exists():
        do_import_bank(admin, DEFAULT_BANK)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    questions = itertools.cycle(DEMO_QUESTIONS)
    count = 0
    for day in range(14, 0, -1):
        for slot in range(4 + day % 4):
            moment = now - dt.timedelta(days=day, hours=-(8 + 2 * slot))
            result = do_ask(next(questions), channel="widget" if slot % 2 else "page", now=moment)
            count += 1
            if result.turn.decision in ("answer", "suggest") and count % 3 == 0:
                do_record_feedback(str(result.conversation_id), result.turn.pk, 1 if count % 2 else -1)
    return count
