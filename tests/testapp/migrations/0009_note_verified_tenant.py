"""The hand-written policy on Note reads the verified tenant (the signed context).

What a project with hand-written policies does after upgrading: the raw setting is no
longer sent, and ``prodpatterns_tenant_id()`` is the tenant the database has verified.
"""

from django.db import migrations

FORWARD = """
ALTER POLICY testapp_note_tenant ON testapp_note
    USING (tenant_key = (SELECT prodpatterns_tenant_id())::integer)
    WITH CHECK (tenant_key = (SELECT prodpatterns_tenant_id())::integer);
"""

BACKWARD = """
ALTER POLICY testapp_note_tenant ON testapp_note
    USING (tenant_key = nullif(current_setting('prodpatterns.tenant_id', true), '')::integer)
    WITH CHECK (
        tenant_key = nullif(current_setting('prodpatterns.tenant_id', true), '')::integer
    );
"""


def run(sql):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return operation


class Migration(migrations.Migration):
    dependencies = [
        ("testapp", "0008_entry"),
        ("prodpatterns", "0004_signed_context"),
    ]

    operations = [migrations.RunPython(run(FORWARD), run(BACKWARD))]
