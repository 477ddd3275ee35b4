"""Who is asking: what a request may see, decided once by authentication."""

from __future__ import annotations

from dataclasses import dataclass


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


# Access control switched off (SIMUSAGE_AUTH=off), and admin keys.
ADMIN = Viewer(admin=True)
