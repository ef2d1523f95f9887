"""The PostgreSQL side of the context channel and the DDL the models generate."""
