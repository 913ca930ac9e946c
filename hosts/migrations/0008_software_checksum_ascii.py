"""MySQL: the software catalogue's checksum as ASCII compared byte for byte.

The checksum is 64 hex digits, but as a utf8mb4 column with a Unicode collation its unique index
holds 256-byte keys compared through the collation. A host's first software answer looks up and
inserts thousands of checksums (30,000 at most in the bench), and binary compares of 64-byte keys
made those lookups 1.3-1.5x faster (docs/profiles/README.md). PostgreSQL and SQLite compare text
bytewise already (the database's own collation aside) and are left as they are.
"""

from django.db import migrations

ASCII = "ALTER TABLE hosts_software MODIFY checksum VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL"
DEFAULT = "ALTER TABLE hosts_software MODIFY checksum VARCHAR(64) NOT NULL"


def _on_mysql(statement):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "mysql":
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("hosts", "0007_host_id_team")]

    operations = [migrations.RunPython(_on_mysql(ASCII), _on_mysql(DEFAULT))]
