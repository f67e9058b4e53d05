"""Pages: public chat and widget demo, analytics for the roles that hold assistant.view, demo data."""

import pytest
from django.test import Client

from citygov.assistant.demo import DEMO_QUESTIONS, seed_assistant_demo
from citygov.assistant.models import Conversation, Decision, Turn
from citygov.assistant.services import do_ask
from citygov.core import dashboard
from citygov.core.roles import Role

pytestmark = pytest.mark.django_db


def test_chat_page_is_public_and_mounts_the_widget():
    response = Client().get("/assistant/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-endpoint="/api/assistant/ask"' in html
    assert "assistant/widget.js" in html


def test_chat_page_without_javascript_posts_with_csrf_and_answers():
    client = Client(enforce_csrf_checks=True)
    page = client.get("/assistant/")
    token = page.cookies["csrftoken"].value
    response = client.post("/assistant/", {"question": "路邊停車費怎麼繳", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert response.context["reply"]["faq_id"] == "GIP_119667419"
    assert Turn.objects.get().decision == Decision.ANSWER
    refused = Client(enforce_csrf_checks=True).post("/assistant/", {"question": "停車"})
    assert refused.status_code == 403
    assert Turn.objects.count() == 1


def test_chat_form_is_rate_limited_like_the_api(monkeypatch):
    monkeypatch.setenv("CITYGOV_ASSISTANT_RATE", "2/min")
    client = Client()
    codes = [client.post("/assistant/", {"question": "路邊停車費怎麼繳"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert Turn.objects.count() == 2


def test_widget_demo_is_public():
    response = Client().get("/assistant/widget/")
    assert response.status_code == 200
    assert "data-floating" in response.content.decode()


def test_analytics_needs_the_capability(client_for, make_user, auditor, city_admin):
    assert Client().get("/assistant/analytics/").status_code == 302
    steward = make_user("steward", Role.DATA_STEWARD)
    assert client_for(steward).get("/assistant/analytics/").status_code == 403
    assert client_for(auditor).get("/assistant/analytics/").status_code == 200
    page = client_for(city_admin).get("/")
    assert 'href="/assistant/analytics/"' in page.content.decode()


def test_analytics_shows_rates_categories_and_unanswered_clusters(client_for, city_admin):
    for question in ("停車費怎麼繳", "今天天氣如何", "今天天气如何?", "你好"):
        do_ask(question)
    response = client_for(city_admin).get("/assistant/analytics/")
    rates = response.context["rates"]
    assert (rates.total, rates.answered, rates.handed_off, rates.chitchat) == (4, 1, 2, 1)
    assert rates.answered_pct == 33.3
    assert response.context["categories"] == [("停車", 1)]
    assert response.context["unanswered"][0][1:] == (2, "今天天氣如何")


def test_demo_traffic_fills_the_analytics_and_dashboard_tile(city_admin):
    count = seed_assistant_demo(city_admin)
    assert count == Turn.objects.count()
    assert count > len(DEMO_QUESTIONS)
    decisions = set(Turn.objects.values_list("decision", flat=True))
    assert decisions == {Decision.ANSWER, Decision.SUGGEST, Decision.HANDOFF, Decision.CHITCHAT}
    assert not Turn.objects.filter(question__contains="A123456789").exists()
    assert not Turn.objects.filter(question__contains="4111").exists()
    assert seed_assistant_demo(city_admin) == 0
    assert Conversation.objects.count() == count
    tiles = {tile.key: value for tile, value in dashboard.tiles_for(city_admin)}
    assert tiles["assistant.overview"].value is not None


def test_dashboard_tile_is_empty_without_consultations(city_admin):
    tiles = {tile.key: value for tile, value in dashboard.tiles_for(city_admin)}
    assert tiles["assistant.overview"].value is None
