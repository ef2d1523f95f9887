"""The PostgreSQL side of the context channel: session settings, roles, embedded server."""
