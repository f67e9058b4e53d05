"""The assistant's public pages in a real browser: a citizen asks on the chat page with the keyboard,
gets an answer and gives feedback, picks a "did you mean" suggestion, and opens and closes the floating
widget on the demo page with the keyboard.

Fails on any console error, uncaught page error or failed HTTP response. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_chat_page_answers_suggests_and_takes_feedback(browser_page, live_server, transactional_db):
    from citygov.assistant.models import Feedback, Turn

    page = browser_page.page
    page.goto(f"{live_server.url}/assistant/")
    question = page.locator(".cg-assistant-input")
    question.focus()
    page.keyboard.type("路邊停车费怎么缴")
    page.keyboard.press("Enter")
    answer = page.locator('.cg-assistant-bot[data-decision="answer"]')
    answer.wait_for()
    assert "路邊停車費如何繳納" in answer.inner_text()
    answer.locator("button.cg-assistant-thumb").first.click()
    page.wait_for_selector("text=感謝您的回饋")
    assert list(Turn.objects.values_list("feedback", flat=True)) == [Feedback.UP]

    question.fill("敬老卡怎么申请")
    question.press("Enter")
    suggestion = page.locator('.cg-assistant-bot[data-decision="suggest"] .cg-assistant-suggestion').first
    suggestion.wait_for()
    picked = suggestion.inner_text()
    suggestion.click()
    page.locator('.cg-assistant-bot[data-decision="answer"]').nth(1).wait_for()
    browser_page.screenshot("assistant-chat")
    assert Turn.objects.count() == 3
    assert Turn.objects.order_by("-id").first().decision == "answer"
    assert picked
    assert browser_page.problems == []


def test_widget_opens_and_closes_with_the_keyboard(browser_page, live_server, transactional_db):
    page = browser_page.page
    page.goto(f"{live_server.url}/assistant/widget/")
    opener = page.locator(".cg-assistant-open")
    assert opener.get_attribute("aria-expanded") == "false"
    opener.focus()
    page.keyboard.press("Enter")
    panel = page.locator(".cg-assistant-floating .cg-assistant-panel")
    panel.wait_for(state="visible")
    assert opener.get_attribute("aria-expanded") == "true"
    assert page.evaluate("document.activeElement.className") == "cg-assistant-input"
    page.keyboard.type("你好")
    page.keyboard.press("Enter")
    page.locator('.cg-assistant-bot[data-decision="chitchat"]').wait_for()
    browser_page.screenshot("assistant-widget")
    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.className") == "cg-assistant-open"
    assert browser_page.problems == []
