from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION backoffice_audit_entry_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'backoffice_audit_entry is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER backoffice_audit_entry_append_only
    BEFORE UPDATE OR DELETE ON backoffice_audit_entry
    FOR EACH ROW EXECUTE FUNCTION backoffice_audit_entry_refuse_change();
CREATE TRIGGER backoffice_audit_entry_no_truncate
    BEFORE TRUNCATE ON backoffice_audit_entry
    FOR EACH STATEMENT EXECUTE FUNCTION backoffice_audit_entry_refuse_change();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS backoffice_audit_entry_no_truncate ON backoffice_audit_entry;
DROP TRIGGER IF EXISTS backoffice_audit_entry_append_only ON backoffice_audit_entry;
DROP FUNCTION IF EXISTS backoffice_audit_entry_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("backoffice", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
