"""API keys: who may read which organization, stored as digests, never in clear.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# id is the key's public part (simusage_<id>_<secret>): the primary key makes verifying a request
# one index lookup. A key is either admin (no organization) or bound to one organization.
# secret_digest is the SHA-256 of the whole key (see app.authentication for why that suffices).
# Revocation keeps the row, so that `apikey list` still shows who had access and until when.
CREATE_API_KEY = """
    CREATE TABLE api_key (
        id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
        name text NOT NULL DEFAULT '',
        organization_id text CHECK (organization_id <> ''),
        admin boolean NOT NULL DEFAULT false,
        secret_digest bytea NOT NULL CHECK (octet_length(secret_digest) = 32),
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        CHECK (admin = (organization_id IS NULL))
    )
"""
DROP_API_KEY = "DROP TABLE IF EXISTS api_key"


def upgrade() -> None:
    op.execute(CREATE_API_KEY)


def downgrade() -> None:
    op.execute(DROP_API_KEY)
