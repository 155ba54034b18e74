"""The base of typed service results: a pydantic model that also reads as a read-only mapping of its fields, so
callers written against the dicts the services used to return (`report["kpis"]["participation"]`) keep working
while new code uses attributes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict


class Report(BaseModel):
    """A typed result that can also be read as a read-only mapping of its fields."""

    model_config = ConfigDict(protected_namespaces=())

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """The field's value, or `default` when the model has no such field."""
        return getattr(self, key) if key in type(self).model_fields else default

    def keys(self) -> list[str]:
        """Field names (so `{**report}` works)."""
        return list(type(self).model_fields)

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        # Field names, as a mapping iterates (pydantic's own (name, value) pairs are not used by its serialisers).
        return iter(type(self).model_fields)

    def __contains__(self, key: object) -> bool:
        return key in type(self).model_fields

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self.model_dump() == dict(other)
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]
