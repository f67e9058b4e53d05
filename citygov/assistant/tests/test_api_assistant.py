"""Public chat API: answers, masked logs, conversations, feedback, errors, rate limit, no CSRF dependence."""

import pytest
from django.test import Client
from django.urls import reverse

from citygov.assistant.models import Conversation, Decision, Feedback, Turn

pytestmark = pytest.mark.django_db
ASK = "/api/assistant/ask"
FEEDBACK = "/api/assistant/feedback"


@pytest.fixture
def anonymous():
    # enforce_csrf_checks: the endpoints must work for a page on another site that has no CSRF token
    return Client(enforce_csrf_checks=True)


def test_routes():
    assert reverse("api:assistant-ask") == ASK
    assert reverse("api:assistant-feedback") == FEEDBACK


def test_ask_answers_and_logs_only_masked_text(anonymous):
    response = anonymous.post(ASK, {"question": "路邊停車費怎麼繳？手機0912345678 A123456789"},
                              content_type="application/json")
    assert response.status_code == 200
    body = response.json()
    assert body["decision"] == "answer"
    assert body["faq_id"] == "GIP_119667419"
    assert body["question"] == "路邊停車費如何繳納?"
    assert body["category"] == "停車"
    assert 50 <= body["confidence"] <= 100
    turn = Turn.objects.get()
    assert turn.question == "路邊停車費怎麼繳?手機[PHONE] [ID]"
    assert turn.personal_data == ["national_id", "phone"]
    assert (turn.decision, turn.faq_id, str(turn.conversation_id)) == (Decision.ANSWER, "GIP_119667419",
                                                                         body["conversation"])
    assert "A123456789" not in str(list(Turn.objects.values_list()))


def test_follow_up_stays_in_the_conversation_and_feedback_is_recorded(anonymous):
    first = anonymous.post(ASK, {"question": "敬老卡怎么申请"}, content_type="application/json").json()
    assert first["decision"] == "suggest"
    assert len(first["suggestions"]) == 3
    second = anonymous.post(ASK, {"question": first["suggestions"][0]["question"],
                                  "conversation": first["conversation"]}, content_type="application/json").json()
    assert second["conversation"] == first["conversation"]
    assert second["decision"] == "answer"
    assert Conversation.objects.count() == 1
    assert Turn.objects.count() == 2
    response = anonymous.post(FEEDBACK, {"conversation": second["conversation"], "turn": second["turn"], "value": 1},
                              content_type="application/json")
    assert response.status_code == 204
    assert Turn.objects.get(pk=second["turn"]).feedback == Feedback.UP


def test_feedback_on_someone_elses_turn_is_not_found(anonymous):
    mine = anonymous.post(ASK, {"question": "停車費怎麼繳"}, content_type="application/json").json()
    other = anonymous.post(ASK, {"question": "停車費怎麼繳"}, content_type="application/json").json()
    response = anonymous.post(FEEDBACK, {"conversation": mine["conversation"], "turn": other["turn"], "value": -1},
                              content_type="application/json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert set(Turn.objects.values_list("feedback", flat=True)) == {Feedback.NONE}


def test_small_talk_and_out_of_scope(anonymous):
    hello = anonymous.post(ASK, {"question": "你好"}, content_type="application/json").json()
    assert (hello["decision"], hello["suggestions"], hello["faq_id"]) == ("chitchat", [], "")
    weather = anonymous.post(ASK, {"question": "今天天氣如何"}, content_type="application/json").json()
    assert weather["decision"] == "handoff"
    assert "1999" in weather["text"]


def test_bad_input_is_a_problem_and_logs_nothing(anonymous):
    for payload in ({"question": ""}, {"question": "停車" * 300}, {}, {"question": "停車", "conversation": "x"},
                    {"question": "停車", "channel": "fax"}):
        response = anonymous.post(ASK, payload, content_type="application/json")
        assert response.status_code == 400, payload
        assert response["Content-Type"] == "application/problem+json"
    assert Turn.objects.count() == 0
    assert Conversation.objects.count() == 0


def test_rate_limited_per_client(anonymous, monkeypatch):
    monkeypatch.setenv("CITYGOV_ASSISTANT_RATE", "3/min")
    codes = [anonymous.post(ASK, {"question": "停車費怎麼繳"}, content_type="application/json").status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert Turn.objects.count() == 3
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert other.post(ASK, {"question": "停車費怎麼繳"}, content_type="application/json").status_code == 200
