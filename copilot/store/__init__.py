"""The relational store (the only package that imports SQLAlchemy)."""

from copilot.store.repo import Store, UpsertResult, message_uid

__all__ = ["Store", "UpsertResult", "message_uid"]
