"""Brands, API keys and charter versions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update

from copilot.errors import AlreadyExists, NotFound
from copilot.store.models import ApiKey, Brand, CharterVersion, now_utc
from copilot.store.base import RepoBase, hash_secret


class AccountsRepo(RepoBase):
    """Brands, keys and charters."""

    # ------------------------------------------------------------ brands
    def create_brand(self, brand_id: str, name: str, language: str) -> Brand:
        """Create a brand; AlreadyExists if the id is taken."""
        with self.session() as s, s.begin():
            if s.get(Brand, brand_id):
                raise AlreadyExists(f"brand '{brand_id}' already exists", field="id")
            brand = Brand(id=brand_id, name=name, language=language)
            s.add(brand)
        return brand

    def get_brand(self, brand_id: str) -> Brand:
        """The brand, or NotFound."""
        with self.session() as s:
            brand = s.get(Brand, brand_id)
        if brand is None:
            raise NotFound(f"brand '{brand_id}' not found")
        return brand

    def find_brand(self, brand_id: str) -> Brand | None:
        """The brand or None."""
        with self.session() as s:
            return s.get(Brand, brand_id)

    def list_brands(self) -> list[Brand]:
        """Every brand, by id."""
        with self.session() as s:
            return list(s.scalars(select(Brand).order_by(Brand.id)))


    def bump_revision(self, brand_id: str) -> int:
        """Mark the brand's searchable content as changed; returns the new revision."""
        with self.session() as s, s.begin():
            s.execute(update(Brand).where(Brand.id == brand_id).values(index_revision=Brand.index_revision + 1))
            return int(s.scalar(select(Brand.index_revision).where(Brand.id == brand_id)) or 0)

    # ------------------------------------------------------------ keys
    def create_key(self, brand_id: str, actor: str, scopes: Sequence[str]) -> tuple[ApiKey, str]:
        """Create a key; returns the row and the plaintext (shown once, stored hashed)."""
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        row = ApiKey(id=key_id, brand_id=brand_id, actor=actor, scopes=",".join(sorted(set(scopes))),
                     secret_hash=hash_secret(secret))
        with self.session() as s, s.begin():
            s.add(row)
        return row, f"cpk_{key_id}_{secret}"

    def verify_key(self, token: str) -> ApiKey | None:
        """The live key matching `token`, compared in constant time; None otherwise."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "cpk":
            return None
        with self.session() as s:
            row = s.get(ApiKey, parts[1][:32])
        candidate = row.secret_hash if row else hash_secret("")
        ok = hmac.compare_digest(candidate, hash_secret(parts[2]))
        return row if ok and row is not None and row.revoked_at is None else None

    def list_keys(self, brand_id: str) -> list[ApiKey]:
        """A brand's keys (hashes never leave the store layer in responses)."""
        with self.session() as s:
            return list(s.scalars(select(ApiKey).where(ApiKey.brand_id == brand_id).order_by(ApiKey.created_at)))

    def revoke_key(self, brand_id: str, key_id: str) -> ApiKey:
        """Revoke a key of this brand."""
        with self.session() as s, s.begin():
            row = s.get(ApiKey, key_id)
            if row is None or row.brand_id != brand_id:
                raise NotFound(f"key '{key_id}' not found")
            if row.revoked_at is None:
                row.revoked_at = now_utc()
        return row

    # ------------------------------------------------------------ charter
    def add_charter_version(self, brand_id: str, data: dict[str, Any], source_text: str, fmt: str,
                            decisions: str = "") -> tuple[CharterVersion, bool]:
        """Store a charter version; the same content (and the same CM decisions on model findings) as the latest
        returns it unchanged (created=False)."""
        digest = hashlib.sha256((source_text + ("\0" + decisions if decisions else "")).encode("utf-8")).hexdigest()
        with self.session() as s, s.begin():
            latest = s.scalars(select(CharterVersion).where(CharterVersion.brand_id == brand_id)
                               .order_by(CharterVersion.version.desc()).limit(1)).first()
            if latest is not None and latest.digest == digest:
                return latest, False
            row = CharterVersion(brand_id=brand_id, version=(latest.version + 1) if latest else 1,
                                 source_format=fmt, source_text=source_text, data=data, digest=digest)
            s.add(row)
        return row, True

    def get_charter(self, brand_id: str, version: int | None = None) -> CharterVersion:
        """The given (or latest) charter version, or NotFound."""
        with self.session() as s:
            q = select(CharterVersion).where(CharterVersion.brand_id == brand_id)
            q = q.where(CharterVersion.version == version) if version else q.order_by(CharterVersion.version.desc())
            row = s.scalars(q.limit(1)).first()
        if row is None:
            raise NotFound(f"brand '{brand_id}' has no charter" + (f" version {version}" if version else ""))
        return row

    def list_charter_versions(self, brand_id: str) -> list[CharterVersion]:
        """All versions, oldest first."""
        with self.session() as s:
            return list(s.scalars(select(CharterVersion).where(CharterVersion.brand_id == brand_id)
                                  .order_by(CharterVersion.version)))
