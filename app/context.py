"""What every resolver gets: who asks, the database, the request's loaders and its node budget."""

from __future__ import annotations

from strawberry.types import Info

from app.database import Database
from app.errors import TooManyNodesError
from app.loaders import Loaders
from app.viewer import Viewer


class RequestContext:
    """The context of one GraphQL request."""

    def __init__(self, viewer: Viewer, database: Database, max_nodes: int) -> None:
        self.viewer = viewer
        self.database = database
        self.loaders = Loaders(database)
        self.max_nodes = max_nodes
        self.nodes = 0

    def charge(self, nodes: int) -> None:
        """Count nodes a connection is about to return; refuse past the request's budget.

        Depth and alias limits do not bound breadth: organizations(first: 1000) { simCards
        (first: 1000) { usage(first: 1000) } } is shallow yet asks for 10^9 buckets.
        """
        self.nodes += nodes
        if self.nodes > self.max_nodes:
            raise TooManyNodesError(self.max_nodes)


def context_of(info: Info) -> RequestContext:
    """The request context of a resolver's info."""
    return info.context
