"""Row-level security on Note, written by hand: the policy the context channel must satisfy."""

from django.db import migrations

FORWARD = """
ALTER TABLE testapp_note ENABLE ROW LEVEL SECURITY;
ALTER TABLE testapp_note FORCE ROW LEVEL SECURITY;
CREATE POLICY testapp_note_tenant ON testapp_note
    USING (tenant_key = nullif(current_setting('prodpatterns.tenant_id', true), '')::integer)
    WITH CHECK (
        tenant_key = nullif(current_setting('prodpatterns.tenant_id', true), '')::integer
    );
"""

BACKWARD = """
DROP POLICY testapp_note_tenant ON testapp_note;
ALTER TABLE testapp_note NO FORCE ROW LEVEL SECURITY;
ALTER TABLE testapp_note DISABLE ROW LEVEL SECURITY;
"""


def run(sql):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return operation


class Migration(migrations.Migration):
    dependencies = [("testapp", "0001_initial")]

    operations = [migrations.RunPython(run(FORWARD), run(BACKWARD))]
