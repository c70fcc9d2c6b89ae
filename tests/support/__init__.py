"""Everything the test modules share; a test module imports from here, never from another test module
(``tests/unit/test_test_layout.py`` checks it). The fixtures that start the servers are in ``tests/conftest.py``.

Servers:    ``graph`` (Neo4j from the environment or the ArcadeDB stand-in; ``target_of``), ``mysql``
            (URL, connection, binlog settings), ``tansu`` (the stand-in Kafka), ``own_mariadb`` and
            ``outage`` (servers a test may stop), ``tcp_cut`` (a relay to cut); ports and child
            ends come from ``kbgraph.processes``.
Sources:    ``binlog`` (SQL, positions, binlog source, snapshot / sync into the graph), ``kafka`` (a workload
            on mappings/kb.yaml, its records per format, topics, runs until the ends), ``dbz_fixture``
            (the recorded Debezium output and a field-by-field comparison).
Data:       ``kb_sql`` (the knowledge-base tables as SQL, their mapping, a fill), ``sql_workload`` (random SQL
            on them), ``change_workload`` (random ``Change``s for tests/kb_mapping.yaml), ``cases`` (regression
            cases), ``oracle`` / ``oracle_run`` (random schemas and workloads, and their run into the graph).
Whole runs: ``cli`` (the ``kbgraph`` command in a subprocess), ``kill_soak`` (SIGKILL and restart ``sync``).
"""
