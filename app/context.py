"""What every resolver gets: who asks, the database, the request's loaders and its node budget."""

from __future__ import annotations

from strawberry.types import Info

from app.database import Database
from app.live_usage import LiveUsage
from app.read_set import ReadSet, RequestDatabase
from app.errors import TooManyNodesError
from app.loaders import Loaders
from app.queries.catalog import SimCardRow
from app.viewer import Viewer


class RequestContext:
    """The context of one GraphQL request."""

    def __init__(self, viewer: Viewer, database: Database, max_nodes: int,
                 live: LiveUsage | None = None, key_id: str = "-") -> None:
        self.viewer = viewer
        self._shared_database = database
        self.restart()
        self.max_nodes = max_nodes
        self.live = live  # the process's subscriptions (None: no change feed)
        self.key_id = key_id  # the API key's public id, for per-key limits
        self.connection_params: dict = {}  # a WebSocket's connection_init payload
        self.socket_state = None  # a WebSocket's scope state, set by the middleware
        self.operation_label = "other"  # the metrics label, once the operation has run
        self.subscriptions = 0  # open on this WebSocket connection
        self.max_subscriptions = 0
        # A WebSocket's key, checked again while its subscriptions run (None: access control
        # is off); key_check is the authenticator's, whose cache spares the database.
        self.authorization: str | None = None
        self.key_check = None

    def restart(self) -> None:
        """Forget what the request read and loaded: its operation runs again from scratch."""
        self.reads = ReadSet()
        self.database = RequestDatabase(self._shared_database, self.reads)
        self.loaders = Loaders(self.database, self.reads)
        self.nodes = 0

    def charge(self, nodes: int) -> None:
        """Count nodes a connection is about to return; refuse past the request's budget.

        Depth and alias limits do not bound breadth: organizations(first: 1000) { simCards
        (first: 1000) { usage(first: 1000) } } is shallow yet asks for 10^9 buckets.
        """
        self.nodes += nodes
        if self.nodes > self.max_nodes:
            raise TooManyNodesError(self.max_nodes)

    async def visible_card(self, sim_card_id: str) -> SimCardRow | None:
        """The card, if it exists and the viewer may see it: one it may not see is reported
        exactly like one that does not exist."""
        row = await self.loaders.sim_cards.load(sim_card_id)
        return row if row is not None and self.viewer.may_see_card(row) else None

    async def sees_organization(self, organization_id: str) -> bool:
        """Whether the organization owns or owned a card, and the viewer may see it."""
        return self.viewer.may_see_organization(organization_id) and bool(
            await self.loaders.organizations.load(organization_id)
        )


def context_of(info: Info) -> RequestContext:
    """The request context of a resolver's info."""
    return info.context
