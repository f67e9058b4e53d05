"""Logging filter that masks personal data before any handler writes a record."""

from __future__ import annotations

import logging

from citygov.core.text.masking import mask_personal_data


class MaskPersonalDataFilter(logging.Filter):
    """Rewrite each record's message with personal data masked (arguments are merged first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            message = str(record.msg)
        record.msg = mask_personal_data(message)
        record.args = None
        return True
