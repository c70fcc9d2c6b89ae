"""Cypher text for every statement shape kbgraph runs (Neo4j 5 Community).

Only names from validated mappings ever reach the text, and every one is backtick-escaped; values
always travel as parameters (``$rows``). Node keys travel as lists (``row.k[0]``), which is cheaper
to pack than maps. Internal properties: ``_kb_stub`` marks a node that exists only because other
rows reference it; ``_kb_id`` identifies a relationship or property node by its source row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

STUB = "_kb_stub"
ROW_ID = "_kb_id"
CHECKPOINT_LABEL = "KbCheckpoint"
DEAD_LETTER_LABEL = "KbDeadLetter"


def esc(name: str) -> str:
    """A backtick-quoted Cypher identifier (backticks inside doubled)."""
    return "`" + name.replace("`", "``") + "`"


def labels_text(labels: Sequence[str]) -> str:
    return "".join(":" + esc(label) for label in labels)


def key_map(props: Sequence[str], source: str) -> str:
    """``{`id`: row.k[0], `b`: row.k[1]}`` for key properties read from list ``source``."""
    return "{" + ", ".join(f"{esc(p)}: {source}[{i}]" for i, p in enumerate(props)) + "}"


def _str_list(values: Sequence[str]) -> str:
    return "[" + ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values) + "]"


def stub_is_empty(var: str, key_props: Sequence[str]) -> str:
    """True for a stub with no relationships and no properties but its key (and the stub mark)."""
    allowed = _str_list([*key_props, STUB])
    return (
        f"{var}.{STUB} = true AND NOT EXISTS {{ ({var})--() }} "
        f"AND all(k IN keys({var}) WHERE k IN {allowed})"
    )


def node_upsert(label: str, key_props: Sequence[str], add_labels: Sequence[str], drop_labels: Sequence[str]) -> str:
    """Create the node with all its labels in one write, or update it (filling a stub in).

    Creating with every label at once (rather than MERGE, then adding labels) writes each new node
    once. Rows never repeat a key inside one statement (the batcher coalesces them), and one
    pipeline is the only writer of its entity rows, so the OPTIONAL MATCH cannot race.
    """
    keys = key_map(key_props, "row.k")
    update = ["SET n += row.p", f"REMOVE n.{STUB}"]
    if add_labels:
        update.append(f"SET n{labels_text(add_labels)}")
    if drop_labels:
        update.append(f"REMOVE n{labels_text(drop_labels)}")
    return "\n".join(
        [
            "UNWIND $rows AS row",
            f"OPTIONAL MATCH (n:{esc(label)} {keys})",
            "FOREACH (_ IN CASE WHEN n IS NULL THEN [1] ELSE [] END |",
            f"  CREATE (m:{esc(label)}{labels_text(add_labels)} {keys}) SET m += row.p)",
            "FOREACH (_ IN CASE WHEN n IS NULL THEN [] ELSE [1] END |",
            "  " + " ".join(update) + ")",
        ]
    )


def node_delete(label: str, key_props: Sequence[str], drop_labels: Sequence[str]) -> str:
    """The row is gone: strip what it owned; keep the node as a stub while anything references it."""
    lines = [
        "UNWIND $rows AS row",
        f"MATCH (n:{esc(label)} {key_map(key_props, 'row.k')})",
        f"SET n += row.p, n.{STUB} = true",
    ]
    if drop_labels:
        lines.append(f"REMOVE n{labels_text(drop_labels)}")
    lines += [f"WITH n WHERE {stub_is_empty('n', key_props)}", "DELETE n"]
    return "\n".join(lines)


def rekey_move(label: str, key_props: Sequence[str], rel_type: str, outgoing: bool) -> str:
    """Re-key onto a stub, step 1: move the stub's relationships of one type to the re-keyed node.

    ``s`` holds the target key (a stub, since no row has it), ``n`` is the node being re-keyed.
    Outgoing relationships move first, so a self-loop on the stub becomes ``(n)->(s)`` and the
    incoming step then makes it ``(n)->(n)``. A relationship ``n`` already has (same type, other
    end and row id: the changes were applied twice) is not doubled. Neo4j 5 Community has no
    dynamic relationship types without APOC, so there is one statement per type the mappings can
    attach to the label.
    """
    t = esc(rel_type)
    if outgoing:
        pattern, dup, create = f"(s)-[r:{t}]->(x)", f"(n)-[d:{t}]->(x)", f"CREATE (n)-[r2:{t}]->(x)"
    else:
        pattern, dup, create = f"(s)<-[r:{t}]-(x)", f"(n)<-[d:{t}]-(x)", f"CREATE (x)-[r2:{t}]->(n)"
    return "\n".join(
        [
            "UNWIND $rows AS row",
            f"MATCH (s:{esc(label)} {key_map(key_props, 'row.n')})",
            f"MATCH (n:{esc(label)} {key_map(key_props, 'row.o')})",
            f"MATCH {pattern}",
            "WHERE s <> n",
            f"OPTIONAL MATCH {dup} WHERE d.{ROW_ID} = r.{ROW_ID} OR (d.{ROW_ID} IS NULL AND r.{ROW_ID} IS NULL)",
            "WITH n, r, x, count(d) AS doubled",
            f"FOREACH (_ IN CASE WHEN doubled = 0 THEN [1] ELSE [] END | {create} SET r2 = properties(r))",
            "DELETE r",
        ]
    )


def node_rekey(label: str, key_props: Sequence[str]) -> str:
    """Re-key, step 2: the node takes the new key; a stub that held it is merged in and goes.

    The stub's relationships were moved by ``rekey_move``; its properties (the key, attribute
    properties from other tables) are laid onto the node, and the node stays a stub only if both
    were stubs. The stub is deleted before the key is set, so the uniqueness constraint holds at
    every step.
    """
    sets = ", ".join(f"n.{esc(p)} = row.n[{i}]" for i, p in enumerate(key_props))
    return "\n".join(
        [
            "UNWIND $rows AS row",
            f"MATCH (n:{esc(label)} {key_map(key_props, 'row.o')})",
            f"OPTIONAL MATCH (s:{esc(label)} {key_map(key_props, 'row.n')})",
            "WITH row, n, s, CASE WHEN s IS NULL THEN {} ELSE properties(s) END AS sp,",
            f"     coalesce(n.{STUB}, false) AND (s IS NULL OR coalesce(s.{STUB}, false)) AS stub",
            "FOREACH (x IN CASE WHEN s IS NULL THEN [] ELSE [s] END | DETACH DELETE x)",
            f"SET n += sp, {sets}",
            f"SET n.{STUB} = CASE WHEN stub THEN true ELSE null END",
        ]
    )


def rekey_cascade_read(owner: str, owner_key: Sequence[str], pattern: str, var: str) -> str:
    """Cascade, read step: the row ids of one rule's elements attached to a re-keyed node.

    ``pattern`` matches from ``(n)`` to the element ``var``; its row id starts with the rule's
    prefix. The rows carry which positions of the id hold the re-keyed columns and their old and
    new values; ``cascade_ids`` (Python) computes each new id.
    """
    return "\n".join(
        [
            "UNWIND $rows AS row",
            f"MATCH (n:{esc(owner)} {key_map(owner_key, 'row.n')}){pattern}",
            f"WHERE {var}.{ROW_ID} STARTS WITH row.prefix",
            f"RETURN DISTINCT {var}.{ROW_ID} AS id, row.pos AS pos, row.ov AS ov, row.nv AS nv",
        ]
    )


def edge_set_id(rel_type: str) -> str:
    """Cascade, write step: a relationship takes its row's new id.

    If one already has that id (the changes were applied twice, e.g. re-sent after a restart), the
    row's element exists: the older copy goes instead.
    """
    return "\n".join(
        [
            "UNWIND $rows AS row",
            f"MATCH ()-[r:{esc(rel_type)} {{{ROW_ID}: row.old}}]->()",
            f"OPTIONAL MATCH ()-[d:{esc(rel_type)} {{{ROW_ID}: row.new}}]->()",
            "WITH r, row, count(d) AS taken",
            f"FOREACH (_ IN CASE WHEN taken = 0 THEN [1] ELSE [] END | SET r.{ROW_ID} = row.new)",
            "FOREACH (_ IN CASE WHEN taken = 0 THEN [] ELSE [1] END | DELETE r)",
        ]
    )


def node_set_id(label: str) -> str:
    """Cascade, write step: a property node takes its row's new id (or goes, if a node has it already)."""
    return "\n".join(
        [
            "UNWIND $rows AS row",
            f"MATCH (p:{esc(label)} {{{ROW_ID}: row.old}})",
            f"OPTIONAL MATCH (d:{esc(label)} {{{ROW_ID}: row.new}})",
            "WITH p, row, count(d) AS taken",
            f"FOREACH (_ IN CASE WHEN taken = 0 THEN [1] ELSE [] END | SET p.{ROW_ID} = row.new)",
            "FOREACH (_ IN CASE WHEN taken = 0 THEN [] ELSE [1] END | DETACH DELETE p)",
        ]
    )


def _merge_endpoint(var: str, label: str, key_props: Sequence[str], source: str) -> str:
    return f"MERGE ({var}:{esc(label)} {key_map(key_props, source)}) ON CREATE SET {var}.{STUB} = true"


def edge_upsert(rel_type: str, f_label: str, f_key: Sequence[str], t_label: str, t_key: Sequence[str]) -> str:
    return "\n".join(
        [
            "UNWIND $rows AS row",
            _merge_endpoint("a", f_label, f_key, "row.f"),
            _merge_endpoint("b", t_label, t_key, "row.t"),
            f"MERGE (a)-[r:{esc(rel_type)} {{{ROW_ID}: row.id}}]->(b)",
            "SET r += row.p",
        ]
    )


def _cleanup_either(var: str, ends: Sequence[tuple[str, Sequence[str]]]) -> str:
    if len({label for label, _ in ends}) == 1:
        return stub_is_empty(var, ends[0][1])
    return " OR ".join(f"({var}:{esc(label)} AND {stub_is_empty(var, key)})" for label, key in ends)


def _match_by_row(pattern: Callable[[str], str], var: str, by_prefix: bool) -> str:
    """MATCH what one row made (``{_kb_id: row.id}``, an index lookup) or every row of a rule (TRUNCATE)."""
    if by_prefix:
        return f"MATCH {pattern('')} WHERE {var}.{ROW_ID} STARTS WITH row.prefix"
    return f"MATCH {pattern(' {' + ROW_ID + ': row.id}')}"


def edge_delete(rel_type: str, f_label: str, f_key: Sequence[str], t_label: str, t_key: Sequence[str],
                by_prefix: bool = False) -> str:
    """Found by its row id (a relationship index), so it is found even after its endpoints were re-keyed."""
    return "\n".join(
        [
            "UNWIND $rows AS row",
            _match_by_row(lambda m: f"(a)-[r:{esc(rel_type)}{m}]->(b)", "r", by_prefix),
            "DELETE r",
            "WITH a, b UNWIND [a, b] AS x",
            "WITH DISTINCT x",
            f"WHERE {_cleanup_either('x', [(f_label, f_key), (t_label, t_key)])}",
            "DELETE x",
        ]
    )


def props_set(label: str, key_props: Sequence[str]) -> str:
    return "\n".join(["UNWIND $rows AS row", _merge_endpoint("o", label, key_props, "row.k"), "SET o += row.p"])


def props_unset(label: str, key_props: Sequence[str]) -> str:
    return "\n".join(
        [
            "UNWIND $rows AS row",
            f"MATCH (o:{esc(label)} {key_map(key_props, 'row.k')})",
            "SET o += row.p",
            f"WITH o WHERE {stub_is_empty('o', key_props)}",
            "DELETE o",
        ]
    )


def prop_node_upsert(owner: str, owner_key: Sequence[str], label: str, rel_type: str) -> str:
    return "\n".join(
        [
            "UNWIND $rows AS row",
            _merge_endpoint("o", owner, owner_key, "row.k"),
            f"MERGE (p:{esc(label)} {{{ROW_ID}: row.id}})",
            "SET p += row.p",
            f"MERGE (o)-[:{esc(rel_type)}]->(p)",
        ]
    )


def prop_node_delete(owner: str, owner_key: Sequence[str], label: str, rel_type: str, by_prefix: bool = False) -> str:
    return "\n".join(
        [
            "UNWIND $rows AS row",
            _match_by_row(lambda m: f"(p:{esc(label)}{m})", "p", by_prefix),
            f"OPTIONAL MATCH (o:{esc(owner)})-[:{esc(rel_type)}]->(p)",
            "DETACH DELETE p",
            f"WITH DISTINCT o WHERE o IS NOT NULL AND {stub_is_empty('o', owner_key)}",
            "DELETE o",
        ]
    )


# -- TRUNCATE: every element a rule made from its table goes -------------------------------------

def entity_truncate_read(label: str, key_props: Sequence[str], names: Sequence[str], prefixes: Sequence[str]) -> str:
    """Read step: each full node of the label, with the properties its rule owns (for the delete)."""
    keys = "[" + ", ".join(f"n.{esc(p)}" for p in key_props) + "]"
    owned = f"k IN {_str_list(names)}" + (f" OR any(x IN {_str_list(prefixes)} WHERE k STARTS WITH x)" if prefixes else "")
    return "\n".join(
        [
            "UNWIND $rows AS row",
            f"MATCH (n:{esc(label)}) WHERE n.{STUB} IS NULL",
            f"RETURN {keys} AS k, [k IN keys(n) WHERE {owned}] AS drop",
        ]
    )


def node_prune_read(label: str, key_props: Sequence[str], prefixes: Sequence[str]) -> str:
    """Read step: flattened JSON leaves of a node that its row's state lacks (``row.keep``).

    Used when the before image did not map, so which leaves the node holds is not known.
    """
    return "\n".join(
        [
            "UNWIND $rows AS row",
            f"MATCH (n:{esc(label)} {key_map(key_props, 'row.k')})",
            f"WITH row, [k IN keys(n) WHERE any(x IN {_str_list(prefixes)} WHERE k STARTS WITH x) AND NOT k IN row.keep] AS drop",
            "WHERE size(drop) > 0",
            "RETURN row.k AS k, drop",
        ]
    )


def props_truncate_read(label: str, key_props: Sequence[str], reserved: Sequence[str], prefixes: Sequence[str]) -> str:
    """Read step: each node of the label with the attribute properties on it (not key, mapped or internal)."""
    keys = "[" + ", ".join(f"n.{esc(p)}" for p in key_props) + "]"
    keep = f"k IN {_str_list([*key_props, *reserved])} OR k STARTS WITH '_kb'"
    if prefixes:
        keep += f" OR any(x IN {_str_list(prefixes)} WHERE k STARTS WITH x)"
    return "\n".join(
        [
            "UNWIND $rows AS row",
            f"MATCH (n:{esc(label)})",
            f"WITH n, [k IN keys(n) WHERE NOT ({keep})] AS drop WHERE size(drop) > 0",
            f"RETURN {keys} AS k, drop",
        ]
    )


def checkpoint_write() -> str:
    return "\n".join(
        [
            f"MERGE (c:{esc(CHECKPOINT_LABEL)} {{pipeline: $pipeline}})",
            "SET c += $position, c.updated_at = datetime(), c.changes = coalesce(c.changes, 0) + $count",
        ]
    )


def checkpoint_read() -> str:
    return f"MATCH (c:{esc(CHECKPOINT_LABEL)} {{pipeline: $pipeline}}) RETURN properties(c) AS props"


def dead_letter_write() -> str:
    return "\n".join(
        [
            "UNWIND $rows AS row",
            f"CREATE (d:{esc(DEAD_LETTER_LABEL)})",
            "SET d = row, d.pipeline = $pipeline, d.at = datetime()",
        ]
    )
