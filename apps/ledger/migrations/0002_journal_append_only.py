from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION ledger_journal_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused (post a reversing transaction instead)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_journal_transaction_append_only
    BEFORE UPDATE OR DELETE ON ledger_journal_transaction
    FOR EACH ROW EXECUTE FUNCTION ledger_journal_refuse_change();
CREATE TRIGGER ledger_journal_transaction_no_truncate
    BEFORE TRUNCATE ON ledger_journal_transaction
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_journal_refuse_change();
CREATE TRIGGER ledger_posting_append_only
    BEFORE UPDATE OR DELETE ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION ledger_journal_refuse_change();
CREATE TRIGGER ledger_posting_no_truncate
    BEFORE TRUNCATE ON ledger_posting
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_journal_refuse_change();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS ledger_posting_no_truncate ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_posting_append_only ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_journal_transaction_no_truncate ON ledger_journal_transaction;
DROP TRIGGER IF EXISTS ledger_journal_transaction_append_only ON ledger_journal_transaction;
DROP FUNCTION IF EXISTS ledger_journal_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
