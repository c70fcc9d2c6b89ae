"""Benchmark: JSONL → graph through kbgraph, beside a raw UNWIND … MERGE loop and a naive loop.

Not a test: run by hand, read the figures.

    python bench/core_bench.py                      # embedded ArcadeDB stand-in, started here
    NEO4J_URI=bolt://… NEO4J_PASSWORD=… python bench/core_bench.py   # a real Neo4j (its data is wiped!)

Prints, per batch size, nodes/s and relationships/s of ``kbgraph`` (JSONL file → pipeline →
graph), the ceiling (the same rows written by a bare ``UNWIND $rows … MERGE`` loop of the best
batch size over the same driver and server, no parsing, no mapping, no checkpoint) and the naive
loop (one transaction per change), with ratios; and the peak memory of a ``kbgraph sync`` process
for a stream and for a stream five times longer (flat memory = about the same peak).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sink.target import GraphTarget
from kbgraph.sink.writer import GraphWriter, Item
from kbgraph.sources import StandaloneContext
from kbgraph.sources.jsonl import JsonlSource
from kbgraph.verify import reset_graph

MAPPING = """
source: {schema: bench}
entities:
  - table: entity
    label: Entity
    label_from: {column: type, allow: [Person, Organization, Place]}
    key: [id]
    properties: {name: name, score: {column: score, type: float}, born: {column: born_on, type: date}}
relations:
  - table: relation
    key: [id]
    type: KNOWS
    from: {label: Entity, key: {id: src_id}}
    to: {label: Entity, key: {id: dst_id}}
    properties: {weight: weight, since: {column: since, type: date}}
"""


def make_data(folder: Path, n_nodes: int, n_rels: int, seed: int = 7) -> tuple[Path, Path, list, list]:
    r = random.Random(seed)
    ents, rels = [], []
    for i in range(1, n_nodes + 1):
        ents.append({"id": i, "type": r.choice(["Person", "Organization", "Place"]), "name": f"实体{i} entity",
                     "score": r.random() * 100, "born_on": f"19{r.randint(10, 99)}-0{r.randint(1, 9)}-1{r.randint(0, 9)}"})
    for i in range(1, n_rels + 1):
        rels.append({"id": i, "src_id": r.randint(1, n_nodes), "dst_id": r.randint(1, n_nodes),
                     "weight": r.random(), "since": "2020-01-0" + str(r.randint(1, 9))})
    paths = []
    for name, rows in (("entity", ents), ("relation", rels)):
        p = folder / f"{name}.jsonl"
        with p.open("wb") as f:
            for row in rows:
                f.write(orjson.dumps({"schema": "bench", "table": name, "op": "insert", "after": row}) + b"\n")
        paths.append(p)
    return paths[0], paths[1], ents, rels


def target_from_env(tmp: Path):
    uri = os.environ.get("NEO4J_URI")
    if uri:
        return GraphTarget(uri, os.environ.get("NEO4J_USERNAME", "neo4j"), os.environ.get("NEO4J_PASSWORD", ""),
                           os.environ.get("NEO4J_DATABASE", "neo4j")), None
    from kbgraph.embedded import EmbeddedGraph

    server = EmbeddedGraph(tmp / "graph", heap="2g").start()
    return GraphTarget(server.uri, server.user, server.password, server.database), server


def fresh(driver, target, mapping) -> None:
    reset_graph(driver, target.database)
    apply_schema(driver, target.database, mapping)


def raw_loop(driver, database: str, ents: list, rels: list, batch: int) -> tuple[float, float]:
    """The ceiling: prepared rows, one UNWIND MERGE statement per batch, nothing else."""
    import datetime as dt

    # MERGE on the identity label, typed values. kbgraph also writes the label from the type column; a
    # ceiling MERGE (n:Entity:Person {id}) is far slower on the ArcadeDB stand-in (its constraint is on :Entity)
    by_label: dict[str, list] = {"": [
        {"id": e["id"], "p": {"name": e["name"], "score": e["score"], "born": dt.date.fromisoformat(e["born_on"])}}
        for e in ents]}
    rel_rows = [{"id": f"relation:[{x['id']}]", "f": x["src_id"], "t": x["dst_id"],
                 "p": {"weight": x["weight"], "since": dt.date.fromisoformat(x["since"])}} for x in rels]
    rel_q = ("UNWIND $rows AS row MATCH (a:Entity {id: row.f}) MATCH (b:Entity {id: row.t}) "
             "MERGE (a)-[r:KNOWS {_kb_id: row.id}]->(b) SET r += row.p")
    out = []
    t0 = time.perf_counter()
    with driver.session(database=database) as s:
        for rows in by_label.values():
            q = "UNWIND $rows AS row MERGE (n:Entity {id: row.id}) SET n += row.p"
            for i in range(0, len(rows), batch):
                s.execute_write(lambda tx, chunk=rows[i:i + batch], q=q: tx.run(q, rows=chunk).consume())
    out.append(len(ents) / (time.perf_counter() - t0))
    for q, rows in ((rel_q, rel_rows),):
        t0 = time.perf_counter()
        with driver.session(database=database) as s:
            for i in range(0, len(rows), batch):
                s.execute_write(lambda tx, chunk=rows[i:i + batch], q=q: tx.run(q, rows=chunk).consume())
        out.append(len(rows) / (time.perf_counter() - t0))
    return out[0], out[1]


def writer_only(mapping, driver, target, path: Path, batch: int, name: str) -> float:
    """The graph side of kbgraph alone: changes read and translated beforehand, then only the writer."""
    items = [Item(c, mapping.translate(c)) for c in JsonlSource(path).changes({}, StandaloneContext())]
    writer = GraphWriter(driver, target.database, name)
    t0 = time.perf_counter()
    for i in range(0, len(items), batch):
        writer.write(items[i:i + batch])
    return len(items) / (time.perf_counter() - t0)


def kbgraph_run(mapping, target, path: Path, batch: int, name: str) -> float:
    t0 = time.perf_counter()
    stats = Pipeline(mapping, target, name=name, batch_size=batch).run(JsonlSource(path))
    assert stats.counts.dead_letters == 0
    return stats.counts.changes / (time.perf_counter() - t0)


def peak_rss_mb(path: Path, mapping_path: Path, target: GraphTarget, batch: int) -> float:
    env = {**os.environ, "NEO4J_URI": target.uri, "NEO4J_USERNAME": target.user,
           "NEO4J_PASSWORD": target.password, "NEO4J_DATABASE": target.database}
    code = ("import resource, sys; from kbgraph.cli import main; sys.argv = sys.argv[1:]\n"
            "try:\n    main()\nfinally:\n"
            "    print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code, "kbgraph", "sync", "--changes", str(path), "--mappings",
                          str(mapping_path), "--pipeline", f"mem{path.stat().st_size}", "--batch-size", str(batch)],
                         env=env, capture_output=True, text=True, check=True)
    return int(out.stderr.rsplit("PEAK", 1)[1].split()[0]) / 1024


def naive_loop(driver, database: str, ents: list) -> float:
    """One transaction per change: what a straightforward adapter does."""
    import datetime as dt

    q = "MERGE (n:Entity {id: $id}) SET n += $p"
    t0 = time.perf_counter()
    with driver.session(database=database) as s:
        for e in ents:
            p = {"name": e["name"], "score": e["score"], "born": dt.date.fromisoformat(e["born_on"])}
            s.execute_write(lambda tx, e=e, p=p: tx.run(q, id=e["id"], p=p).consume())
    return len(ents) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=20_000)
    ap.add_argument("--rels", type=int, default=40_000)
    ap.add_argument("--batches", default="500,1000,2000,5000")
    ap.add_argument("--naive", type=int, default=2000, help="changes for the one-transaction-per-change loop")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kbgraph-bench-"))
    (tmp / "bench.yaml").write_text(MAPPING)
    mapping = compile_mappings([tmp / "bench.yaml"])
    ent_path, rel_path, ents, rels = make_data(tmp, args.nodes, args.rels)
    target, server = target_from_env(tmp)
    print(f"graph: {target.describe()}{' (embedded ArcadeDB stand-in)' if server else ''}; "
          f"{args.nodes:,} nodes, {args.rels:,} relationships; CPUs: {os.cpu_count()}")
    try:
        with target.driver() as driver:
            # warm up the server (JIT, caches) with both ways of writing, then measure
            fresh(driver, target, mapping)
            raw_loop(driver, target.database, ents[:3000], rels[:6000], 1000)
            fresh(driver, target, mapping)
            kbgraph_run(mapping, target, ent_path, 1000, "warm")
            best = (0.0, 0.0, 0)
            print("writer only = kbgraph's graph side alone (changes read and translated beforehand)")
            print(f"{'batch':>6} {'ceiling nodes/s':>16} {'writer only':>12} {'kbgraph nodes/s':>16} {'ratio':>6} "
                  f"{'ceiling rels/s':>15} {'writer only':>12} {'kbgraph rels/s':>15} {'ratio':>6}")
            for b in [int(x) for x in args.batches.split(",")]:
                fresh(driver, target, mapping)
                ceil_n, ceil_r = raw_loop(driver, target.database, ents, rels, b)
                fresh(driver, target, mapping)
                wn = writer_only(mapping, driver, target, ent_path, b, f"wn{b}")
                wr = writer_only(mapping, driver, target, rel_path, b, f"wr{b}")
                fresh(driver, target, mapping)
                n = kbgraph_run(mapping, target, ent_path, b, f"n{b}")
                r = kbgraph_run(mapping, target, rel_path, b, f"r{b}")
                print(f"{b:>6} {ceil_n:>16,.0f} {wn:>12,.0f} {n:>16,.0f} {n / ceil_n:>6.2f} "
                      f"{ceil_r:>15,.0f} {wr:>12,.0f} {r:>15,.0f} {r / ceil_r:>6.2f}")
                if n + r > best[0] + best[1]:
                    best = (n, r, b)
            fresh(driver, target, mapping)
            naive = naive_loop(driver, target.database, ents[: args.naive])
            print(f"naive loop (one transaction per change, {args.naive:,} changes): {naive:,.0f} changes/s; "
                  f"kbgraph at batch {best[2]} is {best[0] / naive:.0f}x faster for nodes, {best[1] / naive:.0f}x for relationships")
            for factor in (1, 5):
                fresh(driver, target, mapping)
                big = tmp / f"mem{factor}.jsonl"
                with big.open("wb") as f:
                    for _ in range(factor):
                        f.write(ent_path.read_bytes())  # repeats are updates of the same keys
                mb = peak_rss_mb(big, tmp / "bench.yaml", target, best[2])
                print(f"peak memory of a `kbgraph sync` process over {args.nodes * factor:,} changes: {mb:.0f} MB")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
