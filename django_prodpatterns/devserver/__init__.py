"""Development and test servers: the embedded PostgreSQL (demo, test runs) and PgBouncer.

Nothing here runs in a deployment; the tests, the example project and the benchmarks start
their servers through it.
"""
