"""Search indexes on the instruments table (owned by apps.instruments; the expressions are the
search app's contract, see apps/search/engines/postgres.py which must use them verbatim).

- pg_trgm for typo tolerance, btree text_pattern_ops for exact and prefix lookups on the
  punctuation-free keys ("BRK.B" -> "BRKB", "The Coca-Cola Company" -> "cocacolacompany"),
  a GIN tsvector ('simple' config: no stemming or stop words, company names are not prose).
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

SYMBOL_KEY = "regexp_replace(upper(symbol), '[^A-Z0-9]', '', 'g')"
NAME_KEY = "regexp_replace(lower(name), '^the |[^a-z0-9]', '', 'g')"
NAME_TSV = "to_tsvector('simple'::regconfig, name)"

INDEXES = {
    # INCLUDE makes prefix lookups index-only: a one-letter prefix matches thousands of rows at
    # 100,000 instruments, and re-evaluating the regexp on each heap row costs tens of ms.
    "search_instr_symkey_btree": f"USING btree (({SYMBOL_KEY}) text_pattern_ops) INCLUDE (popularity, symbol, id)",
    "search_instr_namekey_btree": (
        f"USING btree (({NAME_KEY}) text_pattern_ops) INCLUDE (popularity, symbol, id, name)"
    ),
    "search_instr_symkey_trgm": f"USING gin (({SYMBOL_KEY}) gin_trgm_ops)",
    "search_instr_name_trgm": "USING gin ((lower(name)) gin_trgm_ops)",
    "search_instr_namekey_trgm": f"USING gin (({NAME_KEY}) gin_trgm_ops)",
    "search_instr_name_tsv": f"USING gin (({NAME_TSV}))",
}


class Migration(migrations.Migration):
    initial = True

    dependencies = [("instruments", "0001_initial")]

    operations = [
        TrigramExtension(),
        *[
            migrations.RunSQL(
                sql=f"CREATE INDEX IF NOT EXISTS {name} ON instruments_instrument {definition}",
                reverse_sql=f"DROP INDEX IF EXISTS {name}",
            )
            for name, definition in INDEXES.items()
        ],
    ]
