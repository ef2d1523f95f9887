"""Migrations with one example of each operation the linter flags, and their safe forms."""
