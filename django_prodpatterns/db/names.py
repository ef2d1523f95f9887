"""The custom PostgreSQL settings (``prodpatterns.*``) that the app's Python and SQL share.

A setting's name is a bare string on both sides: Python sends or reads it, and the
versioned SQL files in ``sql/`` read or write it. Python spells each one here and nowhere
else. The released SQL files can never change, so ``tests/test_names.py`` reads every one
of them and fails when a file uses a ``prodpatterns.*`` setting not named here, or when a
name here is used by no file: the two cannot drift apart.
"""

from __future__ import annotations

# The signed context (tenant, actor, audit details), sent with every statement by
# db/session.py and verified by the functions of sql/context_functions_v*.sql.
CONTEXT_SETTING = "prodpatterns.context"

# What an audit_backfill() block's rows left out of the log, counted per block, model and
# action by the trigger function (sql/audit_function_v4.sql); transaction-local.
BACKFILL_ROWS_SETTING = "prodpatterns.backfill_rows"

# The secret settings that remember verified context values for a session
# (sql/context_cache_v1.sql): this prefix, then the last values of sequences only the
# owner can read. Python never sends them; it is named so that tests can aim at it.
CONTEXT_CACHE_PREFIX = "prodpatterns.c"

# The plain tenant and actor settings the channel sent before the signed context
# (migration prodpatterns.0004). No longer sent, and nothing trusts them: the released
# SQL of that time reads them, ``prodpatterns check`` looks for policies that still do,
# and tests set them the way an attacker would.
RAW_TENANT_SETTING = "prodpatterns.tenant_id"
RAW_ACTOR_SETTING = "prodpatterns.actor_id"

# Every name above.
SETTINGS = (
    CONTEXT_SETTING,
    BACKFILL_ROWS_SETTING,
    CONTEXT_CACHE_PREFIX,
    RAW_TENANT_SETTING,
    RAW_ACTOR_SETTING,
)
