"""Apollo's automatic persisted queries: a client sends a document's SHA-256 instead of the
document, and the document only when the server does not know the hash yet.

Stored per API worker process, bounded in documents and bytes (least recently used go first):
a client whose hash is not (or no longer) known gets PERSISTED_QUERY_NOT_FOUND and sends the
document again, as the protocol expects. The hash is checked against the document before it is
kept. A persisted document's text is the key of the parse and validation caches, so its later
requests skip both.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict

from graphql import GraphQLError

from app.errors import BAD_USER_INPUT, PERSISTED_QUERY_NOT_FOUND, PERSISTED_QUERY_NOT_SUPPORTED

_SHA256 = re.compile(r"[0-9a-f]{64}")
VERSION = 1


class PersistedQueries:
    """Documents by SHA-256, at most max_documents of them and max_bytes in all."""

    def __init__(self, max_documents: int, max_bytes: int) -> None:
        self.max_documents = max_documents
        self.max_bytes = max_bytes
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0

    def resolve(self, query: str | None, extensions: dict | None) -> tuple[str | None, GraphQLError | None]:
        """The document to run, or the error to answer: APQ's half of a request."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            return query, None
        if not isinstance(persisted, dict) or persisted.get("version") != VERSION:
            return None, GraphQLError("PersistedQueryNotSupported: only version 1 is supported",
                                      extensions={"code": PERSISTED_QUERY_NOT_SUPPORTED})
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            return None, GraphQLError("persistedQuery.sha256Hash must be 64 lowercase hex digits",
                                      extensions={"code": BAD_USER_INPUT})
        if query is None:
            known = self._documents.get(digest)
            if known is None:
                return None, GraphQLError("PersistedQueryNotFound",
                                          extensions={"code": PERSISTED_QUERY_NOT_FOUND})
            self._documents.move_to_end(digest)
            return known, None
        if hashlib.sha256(query.encode()).hexdigest() != digest:
            return None, GraphQLError("persistedQuery.sha256Hash is not the SHA-256 of the query",
                                      extensions={"code": BAD_USER_INPUT})
        self._keep(digest, query)
        return query, None

    def _keep(self, digest: str, query: str) -> None:
        if digest in self._documents:
            self._documents.move_to_end(digest)
            return
        size = len(query)
        if size > self.max_bytes:
            return
        self._documents[digest] = query
        self._bytes += size
        while len(self._documents) > self.max_documents or self._bytes > self.max_bytes:
            _, evicted = self._documents.popitem(last=False)
            self._bytes -= len(evicted)
