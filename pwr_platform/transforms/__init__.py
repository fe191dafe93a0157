"""The core transforms as plain Python over a psycopg connection.

Each module runs one ``pwr_platform/sql/<name>.sql`` file's statements in one transaction; the
Dagster assets, the ``pwr`` CLI, the tests and the benchmarks all call these same functions.
"""
