"""On PostgreSQL, refuse UPDATE and DELETE of ledger transfers in the database itself.

SQLite keeps the Python-level guard only: Django's test flush empties tables with DELETE there,
while on PostgreSQL it uses TRUNCATE, which row triggers do not see.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION points_transfer_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'points transfers are append-only: post a reversing transfer instead';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER points_transfer_append_only
    BEFORE UPDATE OR DELETE ON points_transfer
    FOR EACH ROW EXECUTE FUNCTION points_transfer_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS points_transfer_append_only ON points_transfer;
DROP FUNCTION IF EXISTS points_transfer_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("points", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
