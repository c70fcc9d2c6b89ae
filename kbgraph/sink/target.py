"""Where the graph is: a Bolt address, credentials and a database name."""

from __future__ import annotations

from dataclasses import dataclass, field

import neo4j

from kbgraph.errors import KbgraphError


@dataclass(frozen=True)
class GraphTarget:
    uri: str
    user: str
    password: str = field(repr=False)  # never printed
    database: str = "neo4j"
    retry_s: float = 5.0  # the driver's own retry window per transaction (blips); a pipeline then waits on its own

    def driver(self) -> neo4j.Driver:
        try:
            return neo4j.GraphDatabase.driver(
                self.uri,
                auth=(self.user, self.password),
                max_transaction_retry_time=self.retry_s,  # the driver's own retries for transient errors
                connection_acquisition_timeout=60.0,
                keep_alive=True,
            )
        except (ValueError, neo4j.exceptions.ConfigurationError) as e:
            raise KbgraphError(f"bad graph address {self.uri!r}: {e}") from None

    def describe(self) -> str:
        return f"{self.uri} (database {self.database}, user {self.user})"
