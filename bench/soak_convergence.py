"""Soak: the convergence oracle at length — random schemas, mappings and workloads on the graph.

Not a test: run by hand, read the figures.

    python bench/soak_convergence.py --cases 5000            # embedded ArcadeDB stand-in, started here
    KBGRAPH_TEST_NEO4J_URI=bolt://… KBGRAPH_TEST_NEO4J_PASSWORD=… python bench/soak_convergence.py
                                                              # a real Neo4j (its data is wiped!)

Each case is a random schema and mapping and a random workload on it (``tests/support/oracle.py``),
streamed at a random batch size and at batch size 1, and compared with the graph of the final rows.
Prints how many cases diverged (must be 0), what the workloads reached (re-keys onto stubs,
cascaded primary keys, ...), the rate, and each failure shrunk to a minimal list of steps.

On the ArcadeDB stand-in, a failure whose graph holds two nodes with one key is reported apart, as
a stand-in artefact: the stand-in loses composite-key lookups inside a transaction that changed
another node's key (``tests/integration/test_graph_semantics.py``, needs_neo4j), and does not refuse
the duplicate the way Neo4j's uniqueness constraint does.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import neo4j

sys.path.insert(0, str(Path(__file__).parents[1]))
from tests.support.graph import start_graph_server
from tests.support.oracle import build, random_steps, shrink
from tests.support.oracle_run import check_case


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=5000)
    ap.add_argument("--steps", type=int, default=40, help="workload steps per case")
    ap.add_argument("--first-seed", type=int, default=1000, help="seeds [first, first + cases); CI runs 0-199")
    ap.add_argument("--batch-one-every", type=int, default=1,
                    help="also stream every Nth case at batch size 1 (the slowest run; 1 = every case)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kbgraph-soak-"))
    server = start_graph_server(tmp / "graph")
    driver = neo4j.GraphDatabase.driver(server.uri, auth=(server.user, server.password))
    reached: Counter[str] = Counter()
    diverged: list[str] = []
    stand_in: list[int] = []
    start = time.perf_counter()
    try:
        for n, seed in enumerate(range(args.first_seed, args.first_seed + args.cases), 1):
            steps = random_steps(seed, args.steps)
            db = build(seed, steps, label_switch=not server.is_stand_in)
            reached.update(db.stats)
            reached["changes"] += len(db.changes)
            problem = check_case(seed, steps, driver, server, tmp, batch_one=seed % args.batch_one_every == 0)
            if problem is not None:
                small = shrink(steps, lambda s, seed=seed: check_case(seed, s, driver, server, tmp) is not None)
                why = check_case(seed, small, driver, server, tmp)
                doubled = duplicate_keys(driver, server.database, db.s.mapping) if server.is_stand_in else []
                if doubled:  # the graph holds two nodes with one key: a uniqueness the stand-in did not keep
                    stand_in.append(seed)
                    print(f"STAND-IN seed {seed}: two nodes with one key {doubled[:3]}; minimal steps {small}", flush=True)
                    continue
                diverged.append(f"seed {seed}: minimal steps {small}\n{why}")
                print(f"DIVERGED seed {seed}: minimal steps {small}\n{why}", flush=True)
            if n % 100 == 0 or n == args.cases:
                rate = n / (time.perf_counter() - start)
                print(f"{n} cases, {len(diverged)} diverged, {rate:.1f} cases/s", flush=True)
    finally:
        driver.close()
        server.stop()
    secs = time.perf_counter() - start
    print(f"\n{args.cases} cases in {secs:.0f} s ({args.cases / secs:.1f}/s), "
          f"graph: {'stand-in' if server.is_stand_in else server.uri}")
    print("reached: " + ", ".join(f"{k} {v}" for k, v in sorted(reached.items())))
    if stand_in:
        print(f"stand-in artefacts (not counted as diverged): {len(stand_in)}, seeds {stand_in} — the graph held two "
              "nodes with one key, which Neo4j's uniqueness constraint refuses; see tests/integration/test_graph_semantics.py")
    print(f"diverged: {len(diverged)}")
    sys.exit(1 if diverged else 0)


def duplicate_keys(driver: neo4j.Driver, database: str, mapping: dict) -> list[str]:
    """``Label{key}`` of every key that two or more nodes hold (a real Neo4j never commits that)."""
    out = []
    for e in mapping.get("entities", []):
        key = e["key"] if isinstance(e["key"], list) else [e["key"]]
        props = ", ".join(f"n.`{k}`" for k in key)
        rows = driver.execute_query(f"MATCH (n:`{e['label']}`) WITH [{props}] AS k, count(*) AS c WHERE c > 1 RETURN k",
                                    database_=database)[0]
        out += [f"{e['label']}{r['k']}" for r in rows]
    return out


if __name__ == "__main__":
    main()
