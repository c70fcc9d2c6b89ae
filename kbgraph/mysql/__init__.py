"""What kbgraph knows about MySQL / MariaDB, in one place.

* ``kbgraph.mysql.types``: the data type families (integer, decimal, float, temporal, text, binary,
  json, bit, enum, set), one table every decoder and check reads.
* ``kbgraph.mysql.values``: parsing of MySQL's value texts shared by the decoders (TIME, zero dates).
* ``kbgraph.mysql.catalog``: the one reader of ``information_schema`` (columns in ordinal order with
  their data and column types, unsigned, MariaDB's JSON columns, primary and unique keys, tables).

``types`` and ``values`` are pure; ``catalog`` runs queries on a DB-API connection it is given.
"""
