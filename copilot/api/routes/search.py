"""Hybrid search over a brand's history and charter."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from copilot.api.deps import CopilotDep, ReadBrand
from copilot.api.routes import PROBLEMS
from copilot.api.schemas import SearchHit, SearchOut
from copilot.errors import InvalidInput
from copilot.types import Timestamp

router = APIRouter(prefix="/v1", tags=["search"], responses=PROBLEMS)
Kind = Literal["question", "answer", "post", "comment", "doc", "charter"]


@router.get("/brands/{brand}/search", response_model=SearchOut, operation_id="search")
def search(brand: ReadBrand, copilot: CopilotDep,
           q: Annotated[str, Query(min_length=1, max_length=500, description="the query, French or English")],
           limit: Annotated[int, Query(ge=1, le=50)] = 10,
           mode: Literal["hybrid", "lexical", "dense"] = "hybrid",
           kind: Kind | None = None,
           channel: Annotated[str | None, Query(max_length=200)] = None,
           author: Annotated[str | None, Query(max_length=200, description="the author: their source id, name or first name")] = None,
           since: Timestamp | None = None, until: Timestamp | None = None) -> SearchOut:
    """Search with dense + BM25 fusion (each side weighed by its evidence for the query) and metadata filters.
    Copies of one text are one result; results without enough evidence are left out, so fewer than `limit` can
    come back. Each result says why it matched (matched words, dense similarity)."""
    if not q.strip():
        raise InvalidInput("q must contain non-blank text", field="q")
    if since and until and since > until:
        raise InvalidInput("since must not be after until", field="since")
    if author:
        author = copilot.store.resolve_author(brand, author)
    filters = {"kind": kind, "channel": channel, "author": author,
               "since": since.timestamp() if since else None, "until": until.timestamp() if until else None}
    hits = copilot.retriever.search(brand, q, limit=limit, mode=mode, filters=filters)
    return SearchOut(query=q, mode=mode, results=[SearchHit.model_validate(h, from_attributes=True) for h in hits])
