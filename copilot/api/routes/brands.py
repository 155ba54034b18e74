"""Brands, API keys and charter versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from copilot.api.deps import AdminBrand, CopilotDep, GlobalAdmin, PrincipalDep, ReadBrand
from copilot.api.routes import PROBLEMS, problem
from copilot.api.schemas import (BrandIn, BrandOut, CharterFindingsIn, CharterIn, CharterOut, CharterVersionOut,
                                 KeyCreated, KeyIn, KeyOut)
from copilot.errors import InvalidInput
from copilot.types import Charter

router = APIRouter(prefix="/v1", tags=["brands"], responses=PROBLEMS)


def _key_out(row: object) -> KeyOut:
    return KeyOut(id=row.id, actor=row.actor, scopes=row.scopes.split(","), created_at=row.created_at,  # type: ignore[attr-defined]
                  revoked_at=row.revoked_at)  # type: ignore[attr-defined]


@router.post("/brands", status_code=status.HTTP_201_CREATED, response_model=BrandOut, operation_id="createBrand",
             responses={409: problem("brand id taken")})
def create_brand(body: BrandIn, principal: GlobalAdmin, copilot: CopilotDep) -> BrandOut:
    """Create a brand (the admin key only). Then: a key (`createKey`), a charter (`putCharter`), history
    (`upsertHistory` or `createImport`)."""
    row = copilot.store.create_brand(body.id, body.name, body.language)
    return _brand_out(row)


@router.get("/brands", response_model=list[BrandOut], operation_id="listBrands")
def list_brands(principal: PrincipalDep, copilot: CopilotDep) -> list[BrandOut]:
    """The brands this key can see: every brand for the admin key, its own brand for a brand key."""
    if principal.is_admin:
        return [_brand_out(row) for row in copilot.store.list_brands()]
    return [_brand_out(copilot.store.get_brand(principal.brand))] if principal.brand else []


def _brand_out(row: object) -> BrandOut:
    return BrandOut(id=row.id, name=row.name, language=row.language, created_at=row.created_at)  # type: ignore[attr-defined]


@router.get("/brands/{brand}", response_model=BrandOut, operation_id="getBrand")
def get_brand(brand: ReadBrand, copilot: CopilotDep) -> BrandOut:
    """A brand."""
    return _brand_out(copilot.store.get_brand(brand))


@router.post("/brands/{brand}/keys", status_code=status.HTTP_201_CREATED, response_model=KeyCreated,
             operation_id="createKey")
def create_key(brand: AdminBrand, body: KeyIn, copilot: CopilotDep) -> KeyCreated:
    """Create a key scoped to this brand; the secret is returned once and stored hashed."""
    row, secret = copilot.store.create_key(brand, body.actor, body.scopes)
    return KeyCreated(key=secret, **_key_out(row).model_dump())


@router.get("/brands/{brand}/keys", response_model=list[KeyOut], operation_id="listKeys")
def list_keys(brand: AdminBrand, copilot: CopilotDep) -> list[KeyOut]:
    """The brand's keys (never their secrets)."""
    return [_key_out(r) for r in copilot.store.list_keys(brand)]


@router.delete("/brands/{brand}/keys/{key_id}", response_model=KeyOut, operation_id="revokeKey")
def revoke_key(brand: AdminBrand, key_id: str, copilot: CopilotDep) -> KeyOut:
    """Revoke a key; it stops working at once."""
    return _key_out(copilot.store.revoke_key(brand, key_id))


def _version_out(row: object) -> CharterVersionOut:
    return CharterVersionOut(version=row.version, source_format=row.source_format,  # type: ignore[attr-defined]
                             created_at=row.created_at, digest=row.digest)  # type: ignore[attr-defined]


@router.put("/brands/{brand}/charter", response_model=CharterOut, operation_id="putCharter")
def put_charter(brand: AdminBrand, body: CharterIn, copilot: CopilotDep) -> CharterOut:
    """Upload a charter (Markdown with optional front matter, YAML or JSON); a changed one is a new version. With
    an LLM configured the model reads it too: `charter.review` compares its reading with the rules parser's, and
    what only the model found waits in `charter.proposals` until confirmed (POST …/charter/findings)."""
    row, charter, created = copilot.put_charter(brand, body.content, fmt=body.format, read_with_llm=True)
    return CharterOut(created=created, charter=charter, **_version_out(row).model_dump())


@router.get("/brands/{brand}/charter", response_model=CharterOut, operation_id="getCharter")
def get_charter(brand: ReadBrand, copilot: CopilotDep) -> CharterOut:
    """The current charter."""
    row = copilot.store.get_charter(brand)
    return CharterOut(charter=Charter.model_validate(row.data), **_version_out(row).model_dump())


@router.get("/brands/{brand}/charter/versions", response_model=list[CharterVersionOut],
            operation_id="listCharterVersions")
def list_charter_versions(brand: ReadBrand, copilot: CopilotDep) -> list[CharterVersionOut]:
    """Every version, oldest first."""
    return [_version_out(r) for r in copilot.store.list_charter_versions(brand)]


@router.get("/brands/{brand}/charter/versions/{version}", response_model=CharterOut, operation_id="getCharterVersion")
def get_charter_version(brand: ReadBrand, version: Annotated[int, Path(ge=1, le=2**31 - 1)], copilot: CopilotDep) -> CharterOut:
    """One version of the charter."""
    row = copilot.store.get_charter(brand, version)
    return CharterOut(charter=Charter.model_validate(row.data), **_version_out(row).model_dump())


@router.post("/brands/{brand}/charter/findings", response_model=CharterOut, operation_id="decideCharterFindings")
def decide_charter_findings(brand: AdminBrand, body: CharterFindingsIn, copilot: CopilotDep) -> CharterOut:
    """Confirm (`accept`) or dismiss (`reject`) what the model read in the charter that the rules parser did not
    (`charter.proposals`, with an LLM configured): confirmed findings apply to a new charter version."""
    if not body.accept and not body.reject:
        raise InvalidInput("nothing to decide: give finding ids in accept and/or reject", field="accept")
    row, charter = copilot.decide_charter_findings(brand, accept=body.accept, reject=body.reject)
    return CharterOut(created=True, charter=charter, **_version_out(row).model_dump())
