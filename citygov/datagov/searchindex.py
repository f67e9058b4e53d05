"""The database side of catalogue full-text search: the index over ``Dataset.search_tokens`` and the match.

SQLite: an FTS5 table with external content (``datagov_dataset`` itself, so nothing is stored twice),
``detail=none`` and a 5-letter prefix index (one spelt character, for one-character queries), kept in
step by three triggers. PostgreSQL: a GIN index on ``to_tsvector('simple', search_tokens)``, which the
database keeps in step by itself. The tokens are plain ASCII words (``engine.textindex``), so both
databases read them the same way.

A migration that makes Django rebuild ``datagov_dataset`` on SQLite (``AlterField`` and the like drop and
re-create the table, and its triggers with it) must call ``install(schema_editor)`` again afterwards.
"""

from __future__ import annotations

from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from citygov.datagov.engine.textindex import QueryToken

FTS_TABLE = "datagov_dataset_fts"
PG_INDEX = "datagov_dataset_search_gin"
# Constant SQL (no value is ever formatted into it); the table is FTS_TABLE.
_SQLITE_INSTALL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS datagov_dataset_fts USING fts5(search_tokens, "
    "content='datagov_dataset', content_rowid='id', tokenize='unicode61', detail=none, prefix='5')",
    "CREATE TRIGGER IF NOT EXISTS datagov_dataset_fts_ai AFTER INSERT ON datagov_dataset BEGIN "
    "INSERT INTO datagov_dataset_fts(rowid, search_tokens) VALUES (new.id, new.search_tokens); END",
    "CREATE TRIGGER IF NOT EXISTS datagov_dataset_fts_ad AFTER DELETE ON datagov_dataset BEGIN "
    "INSERT INTO datagov_dataset_fts(datagov_dataset_fts, rowid, search_tokens) "
    "VALUES ('delete', old.id, old.search_tokens); END",
    "CREATE TRIGGER IF NOT EXISTS datagov_dataset_fts_au AFTER UPDATE OF search_tokens ON datagov_dataset BEGIN "
    "INSERT INTO datagov_dataset_fts(datagov_dataset_fts, rowid, search_tokens) "
    "VALUES ('delete', old.id, old.search_tokens); "
    "INSERT INTO datagov_dataset_fts(rowid, search_tokens) VALUES (new.id, new.search_tokens); END",
    "INSERT INTO datagov_dataset_fts(datagov_dataset_fts) VALUES ('rebuild')",
]
_SQLITE_REMOVE = ["DROP TRIGGER IF EXISTS datagov_dataset_fts_ai", "DROP TRIGGER IF EXISTS datagov_dataset_fts_ad",
                  "DROP TRIGGER IF EXISTS datagov_dataset_fts_au", "DROP TABLE IF EXISTS datagov_dataset_fts"]
_SQLITE_MATCH = ('"datagov_dataset"."id" IN (SELECT rowid FROM datagov_dataset_fts WHERE datagov_dataset_fts '
                 "MATCH %s)")
# "+id" keeps SQLite from looking each hit up by id: it scans a narrow index and tests membership instead.
_SQLITE_MATCH_BROAD = ('+"datagov_dataset"."id" IN (SELECT rowid FROM datagov_dataset_fts WHERE datagov_dataset_fts '
                       "MATCH %s)")
_SQLITE_COUNT = "SELECT count(*) FROM datagov_dataset_fts WHERE datagov_dataset_fts MATCH %s"
BROAD_HITS = 2000
_PG_MATCH = ("to_tsvector('simple'::regconfig, \"datagov_dataset\".\"search_tokens\") "
             "@@ to_tsquery('simple'::regconfig, %s)")
_PG_INSTALL = ["CREATE INDEX IF NOT EXISTS datagov_dataset_search_gin ON datagov_dataset "
               "USING gin (to_tsvector('simple'::regconfig, search_tokens))"]
_PG_REMOVE = ["DROP INDEX IF EXISTS datagov_dataset_search_gin"]


def install(schema_editor) -> None:
    """Create the index (idempotent) on the schema editor's database; other databases get none."""
    statements = {"sqlite": _SQLITE_INSTALL, "postgresql": _PG_INSTALL}.get(schema_editor.connection.vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


def remove(schema_editor) -> None:
    """Drop the index (the reverse of ``install``)."""
    statements = {"sqlite": _SQLITE_REMOVE, "postgresql": _PG_REMOVE}.get(schema_editor.connection.vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


def match(connection, tokens: tuple[QueryToken, ...]) -> RawSQL | None:
    """A filter holding the datasets whose tokens include all of ``tokens``; None: no index on this database.

    On SQLite the plan depends on how many datasets hold the tokens (one cheap count in the FTS index):
    a few are fetched by id; many (more than ``BROAD_HITS``) are found by walking a narrow index
    (``datagov_ds_title``, or the smallest for a count) and checking each id against the hits, which
    spares reading tens of thousands of wide rows. PostgreSQL's planner makes that choice itself.
    """
    if not tokens:
        return None
    if connection.vendor == "sqlite":
        expression = " AND ".join(t.token + ("*" if t.prefix else "") for t in tokens)
        with connection.cursor() as cursor:
            cursor.execute(_SQLITE_COUNT, [expression])
            hits = cursor.fetchone()[0]
        sql = _SQLITE_MATCH_BROAD if hits > BROAD_HITS else _SQLITE_MATCH
        return RawSQL(sql, [expression], output_field=BooleanField())  # noqa: S611 - constant SQL
    if connection.vendor == "postgresql":
        expression = " & ".join(t.token + (":*" if t.prefix else "") for t in tokens)
        return RawSQL(_PG_MATCH, [expression], output_field=BooleanField())  # noqa: S611 - constant SQL
    return None
