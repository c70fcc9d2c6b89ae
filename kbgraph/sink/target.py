"""Where the graph is: a Bolt address, credentials and a database name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import neo4j

from kbgraph.errors import KbgraphError

if TYPE_CHECKING:
    from kbgraph.settings import GraphSettings


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


def from_settings(settings: GraphSettings) -> GraphTarget:
    """The graph the settings name (``NEO4J_*``); a user-facing error when none is set."""
    if not settings.neo4j_uri:
        raise KbgraphError("no graph to write to: set NEO4J_URI (and NEO4J_USERNAME / NEO4J_PASSWORD), "
                           "or try `kbgraph demo`, which starts an embedded graph server")
    return GraphTarget(settings.neo4j_uri, settings.neo4j_username, settings.neo4j_password.get_secret_value(),
                       settings.neo4j_database, retry_s=settings.graph_retry_s)
