"""Bulk grants from an uploaded file of card numbers (pages and the API share this), and grants under
idempotency keys (one, or a keyed batch)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.utils.translation import gettext as _

from citygov.core.errors import InvalidInput, ServiceError
from citygov.points.services import ledger
from citygov.points.services.idempotency import IdempotentResult, run_idempotent

CARD_COLUMN = "card_number"


@dataclass(frozen=True)
class RefusedLine:
    """One card of a bulk-grant file that got no lot: its physical line, the card and why."""

    line: int
    card_number: str
    reason: str


@dataclass(frozen=True)
class BulkGrantResult:
    """What a bulk grant did: cards read, lots granted, points granted and each refused line."""

    lines: int
    granted: int
    points: int
    refused: tuple[RefusedLine, ...]


def read_card_numbers(upload) -> list[tuple[int, str]]:
    """(physical line, card number) for each card in an uploaded CSV (UTF-8 or Big5).

    The file is one card number per line, or a CSV whose header has a ``card_number`` column (other
    columns are ignored). Blank lines are skipped; line numbers count every physical line.
    """
    raw = upload.read()
    for encoding in ("utf-8-sig", "cp950"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput(_("The file is neither UTF-8 nor Big5 text."), code="unreadable_file",
                           fields={"file": [_("The file is neither UTF-8 nor Big5 text.")]})
    reader = csv.reader(io.StringIO(text, newline=""))
    cards: list[tuple[int, str]] = []
    column: int | None = None
    first = True
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if first:
                first = False
                header = [cell.strip().lower() for cell in cells]
                if CARD_COLUMN in header:
                    column = header.index(CARD_COLUMN)
                    continue
            index = column if column is not None else 0
            cards.append((start, cells[index].strip() if index < len(cells) else ""))
    except csv.Error as exc:
        message = _("The file is not valid CSV near line {line}: {reason}").format(line=line, reason=exc)
        raise InvalidInput(message, code="unreadable_file", fields={"file": [message]}) from None
    return cards


def do_bulk_grant_from_file(actor, campaign_id: int, upload) -> BulkGrantResult:
    """Read the card numbers of an uploaded file and grant through ``do_bulk_grant``, reporting by line."""
    cards = read_card_numbers(upload)
    if not cards:
        raise InvalidInput(_("The file holds no card numbers."), code="empty_file",
                           fields={"file": [_("The file holds no card numbers.")]})
    report = ledger.do_bulk_grant(actor, campaign_id, [card for _line, card in cards])
    refused = tuple(RefusedLine(cards[index - 1][0], card, reason) for index, card, reason in report.refused)
    return BulkGrantResult(lines=len(cards), granted=report.granted, points=report.points, refused=refused)


# --- grants with idempotency keys (R5) ------------------------------------------------------------

def do_grant_once(actor, campaign_id: int, card_number: str, key: str, render) -> IdempotentResult:
    """Grant one lot under the caller's idempotency ``key``: the scope is the API credential (the
    user); the same key and card return the stored answer, another card is ``idempotency_conflict``.
    ``render(lot)`` gives the body stored with the key."""

    def grant():
        return 201, render(ledger.do_grant(actor, campaign_id, card_number))

    return run_idempotent(f"user:{actor.pk}", key, {"campaign": campaign_id, "card_number": card_number}, grant)


@dataclass(frozen=True)
class KeyedGrantBatch:
    """Per-grant answers of a keyed batch, in request order, and counts."""

    granted: int
    replayed: int
    refused: int
    results: tuple[dict, ...]


def do_grant_batch(actor, campaign_id: int, items: list[dict], render) -> KeyedGrantBatch:
    """Grant each ``{"key", "card_number"}`` in order, each under its own key, as if each came in its
    own request: a key seen before (earlier in this batch or in another request) returns the stored
    answer as a replay, or a 409 when the card differs. A refused grant does not stop the others."""
    results, counts = [], {"granted": 0, "replayed": 0, "refused": 0}
    for item in items:
        try:
            result = do_grant_once(actor, campaign_id, item["card_number"], item["key"], render)
            answer = {"status": result.status_code, "replayed": result.replayed, "body": result.body}
        except ServiceError as exc:  # a conflicting or in-flight key: nothing was done for it
            answer = {"status": exc.status, "replayed": False,
                      "body": {"status": exc.status, "code": exc.code, "detail": str(exc.message)}}
        if answer["replayed"]:
            counts["replayed"] += 1
        elif answer["status"] == 201:
            counts["granted"] += 1
        else:
            counts["refused"] += 1
        results.append({"key": item["key"], "card_number": item["card_number"], **answer})
    return KeyedGrantBatch(results=tuple(results), **counts)
