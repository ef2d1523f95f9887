"""Production database patterns for Django on PostgreSQL.

Only the version lives here: importing models from the package root would break Django's
app loading, so every public name is imported from its own module.
"""

__version__ = "0.1.0.dev0"
