"""Debezium's MySQL/MariaDB JSON records, both ways, in one place so the two sides cannot drift.

* ``columns``: a SQL column's type (from ``information_schema`` or a mapping's ``source.ddl``) and
  the connector settings that decide how Debezium encodes it;
* ``encode``: the Debezium field schema of a column and a value in its Debezium JSON encoding;
* ``decode``: a field schema back to a converter to the values the binlog source produces;
* ``envelope``: the records ``kbgraph publish`` writes (key, value, headers), as the connector does;
* ``payload``: reading payload-only records (``schemas.enable=false``) with the mapping's column types.
"""
