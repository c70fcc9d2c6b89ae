"""Where the binlog reader stands, as kept in the graph checkpoint.

A checkpoint fragment is ``{"file", "pos", "gtid", "index"}``:

* ``file``/``pos`` — the binlog coordinates to stream from. After a whole transaction they are
  the end of its commit event (``index`` 0). Inside a transaction that was split over several
  graph batches they are the *start* of that transaction (its GTID event) and ``index`` says how
  many of its changes are already applied; the reader skips that many when it resumes.
* ``gtid`` — the GTID state after the last whole transaction (MariaDB ``domain-server-seq`` list,
  MySQL ``uuid:1-n`` set); informative, and used to resume when a checkpoint holds no file/pos.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kbgraph.errors import SourceError

_MARIADB_GTID = re.compile(r"^\d+-\d+-\d+$")


@dataclass(frozen=True, slots=True)
class Position:
    file: str | None = None
    pos: int | None = None
    gtid: str = ""
    index: int = 0

    @classmethod
    def from_checkpoint(cls, cp: dict[str, Any]) -> Position | None:
        """The binlog position in a merged checkpoint; None when it holds none."""
        file, pos, gtid, index = cp.get("file"), cp.get("pos"), cp.get("gtid") or "", cp.get("index", 0)
        if file is None and pos is None and not gtid:
            return None
        if (file is None) != (pos is None):
            raise SourceError(f"the checkpoint's binlog position is incomplete: file={file!r}, pos={pos!r}")
        if file is not None and (not isinstance(file, str) or not isinstance(pos, int) or pos < 4):
            raise SourceError(f"the checkpoint's binlog position is not valid: file={file!r}, pos={pos!r}")
        if not isinstance(index, int) or index < 0:
            raise SourceError(f"the checkpoint's transaction index {index!r} is not a count")
        if not isinstance(gtid, str):
            raise SourceError(f"the checkpoint's GTID {gtid!r} is not text")
        return cls(file=file, pos=pos, gtid=gtid, index=index)

    def fragment(self) -> dict[str, Any]:
        return {"file": self.file, "pos": self.pos, "gtid": self.gtid, "index": self.index}

    def describe(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(f"{self.file}:{self.pos}")
        if self.gtid:
            parts.append(f"GTID {self.gtid}")
        if self.index:
            parts.append(f"+{self.index} changes")
        return " ".join(parts) or "(none)"


class MariaGtidState:
    """MariaDB GTID state: the last GTID of every replication domain."""

    __slots__ = ("_domains",)

    def __init__(self, text: str = "") -> None:
        self._domains: dict[int, str] = {}
        for item in filter(None, (p.strip() for p in text.split(","))):
            if not _MARIADB_GTID.match(item):
                raise SourceError(f"GTID {item!r} is not MariaDB's domain-server-sequence form")
            self._domains[int(item.split("-", 1)[0])] = item

    def add(self, domain: int, gtid: str) -> None:
        self._domains[domain] = gtid

    def __str__(self) -> str:
        return ",".join(self._domains[d] for d in sorted(self._domains))


class MysqlGtidState:
    """MySQL GTID executed set (``uuid:1-n,...``), grown one transaction at a time."""

    __slots__ = ("_set",)

    def __init__(self, text: str = "") -> None:
        from pymysqlreplication.gtid import GtidSet

        try:
            self._set = GtidSet(text.replace("\n", "") or None)
        except Exception as exc:  # noqa: BLE001 - the library raises ValueError, AttributeError, ... on junk
            raise SourceError(f"GTID set {text!r} is not MySQL's uuid:interval form ({exc})") from None

    def add(self, gtid: str) -> None:
        from pymysqlreplication.gtid import Gtid

        self._set.merge_gtid(Gtid(gtid))

    def __str__(self) -> str:
        return str(self._set)
