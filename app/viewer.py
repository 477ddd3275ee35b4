"""Who is asking: what a request may see, decided once by authentication."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.queries.catalog import SimCardRow


class NoScopeError(LookupError):
    """A viewer without an organization reached a card's reads: it may see no card at all."""


@dataclass(frozen=True)
class Viewer:
    """An admin sees every organization; an organization's key sees only that organization."""

    admin: bool
    organization_id: str | None = None

    def may_see_organization(self, organization_id: str | None) -> bool:
        """Whether usage attributed to organization_id (None: no organization) is visible."""
        if self.admin:
            return True
        return organization_id is not None and organization_id == self.organization_id

    def may_see_card(self, card: SimCardRow) -> bool:
        """Whether the card is visible: to an admin, or to a key of an organization that owns
        it now or owned it in any past period (a card outside the inventory: admin only)."""
        if self.admin:
            return True
        return self.organization_id is not None and (
            self.organization_id == card.organization_id or self.organization_id in card.owners
        )

    def card_scope(self) -> str | None:
        """The organization whose part of a card's usage and history this viewer reads; None:
        every organization's (an admin)."""
        if self.admin:
            return None
        if self.organization_id is None:
            # None means "every organization": never let a key without one read that.
            raise NoScopeError("a viewer without an organization reads no card")
        return self.organization_id


# Access control switched off (SIMUSAGE_AUTH=off), and admin keys.
ADMIN = Viewer(admin=True)
