"""Personal data is masked before any log handler writes it."""

from __future__ import annotations

import logging

from citygov.core.logging import MaskPersonalDataFilter


def make_record(msg, *args):
    return logging.LogRecord("citygov.test", logging.INFO, __file__, 1, msg, args, None)


def test_filter_masks_message_and_arguments():
    record = make_record("citizen %s called from %s", "A123456789", "0912-345-678")
    assert MaskPersonalDataFilter().filter(record) is True
    assert record.getMessage() == "citizen [ID] called from [PHONE]"


def test_filter_leaves_plain_text_alone():
    record = make_record("pruned %d expired sessions", 3)
    MaskPersonalDataFilter().filter(record)
    assert record.getMessage() == "pruned 3 expired sessions"


def test_configured_handlers_mask(settings):
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["mask_personal_data"]


def test_failed_login_with_an_id_as_user_name_is_masked(client, db):
    from citygov.core.models import ChangeLog

    client.post("/login/", {"username": "A123456789", "password": "whatever"})
    assert list(ChangeLog.objects.values_list("object_repr", flat=True)) == ["[ID]"]
