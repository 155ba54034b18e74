"""The brand's current charter, as every feature reads it."""

from __future__ import annotations

from copilot.errors import NotFound
from copilot.store import Store
from copilot.types import Charter


def current_charter(store: Store, brand: str) -> tuple[Charter | None, int | None]:
    """The latest typed charter and its version, or (None, None) when the brand has none yet."""
    try:
        row = store.get_charter(brand)
    except NotFound:
        return None, None
    return Charter.model_validate(row.data), row.version
