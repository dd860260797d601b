"""A dictionary of the words in instrument names, for typo correction (pg_trgm on short words).

Fuzzy matching whole names does not scale: common words ("corporation", "holdings") share
trigrams with most rows, so a trigram index returns a large part of the table for recheck.
Correcting each query word against the distinct words instead touches a table a hundred times
smaller, and the corrected words then go through the full-text index. Statement-level triggers
keep the dictionary complete on every insert or rename (bulk_create included, which bypasses
Django signals); words of renamed or deleted instruments stay, which costs nothing but a
candidate that matches no name.
"""

from django.db import migrations

COLLECT = """
CREATE OR REPLACE FUNCTION search_instrument_words_collect() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_instrument_word (word)
    SELECT DISTINCT lexeme
    FROM changed_rows, unnest(to_tsvector('simple'::regconfig, changed_rows.name)) AS t(lexeme)
    WHERE lexeme ~ '^[a-z0-9]+$'
    ON CONFLICT (word) DO NOTHING;
    RETURN NULL;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("search", "0001_search_indexes")]

    operations = [
        migrations.RunSQL(
            sql=[
                "CREATE TABLE search_instrument_word (word text PRIMARY KEY)",
                "CREATE INDEX search_instrument_word_trgm ON search_instrument_word USING gin (word gin_trgm_ops)",
                COLLECT,
                "CREATE TRIGGER search_instrument_words_insert AFTER INSERT ON instruments_instrument "
                "REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT "
                "EXECUTE FUNCTION search_instrument_words_collect()",
                "CREATE TRIGGER search_instrument_words_update AFTER UPDATE ON instruments_instrument "
                "REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT "
                "EXECUTE FUNCTION search_instrument_words_collect()",
                "INSERT INTO search_instrument_word (word) "
                "SELECT DISTINCT lexeme FROM instruments_instrument, "
                "unnest(to_tsvector('simple'::regconfig, name)) AS t(lexeme) "
                "WHERE lexeme ~ '^[a-z0-9]+$' ON CONFLICT (word) DO NOTHING",
            ],
            reverse_sql=[
                "DROP TRIGGER IF EXISTS search_instrument_words_update ON instruments_instrument",
                "DROP TRIGGER IF EXISTS search_instrument_words_insert ON instruments_instrument",
                "DROP FUNCTION IF EXISTS search_instrument_words_collect()",
                "DROP TABLE IF EXISTS search_instrument_word",
            ],
        ),
    ]
