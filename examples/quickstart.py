"""Your own brand in six calls, with a Python client generated from the contract (`openapi.yaml`).

    .venv/bin/openapi-python-client generate --path openapi.yaml --meta none --output-path copilot_client \
        --config examples/openapi-client.yaml
    .venv/bin/python examples/quickstart.py http://127.0.0.1:8000 dev-admin-key

The same six steps as the README's curl commands: create a brand, a key for its editors, its charter, its
history (an import job), a ritual draft, and the review (submit, then approve that exact version with If-Match).
`tests/test_generated_client.py` runs this file against a live `copilot serve`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, TypeVar

from copilot_client import AuthenticatedClient
from copilot_client.api.brands import create_brand, create_key, put_charter
from copilot_client.api.history import create_import, get_job
from copilot_client.api.review import decide_draft
from copilot_client.api.rituals import draft_ritual
from copilot_client.models import (BrandIn, BrandInLanguage, BrandOut, CharterIn, CharterOut, CreateImportFormat,
                                   DecisionIn, DecisionInAction, DraftOut, JobOut, JobOutStatus, KeyCreated, KeyIn,
                                   KeyInScopesItem, RitualDraftIn)
from copilot_client.types import File, Response

HERE = Path(__file__).resolve().parent
T = TypeVar("T")


def expect(response: Response[Any], model: type[T]) -> T:
    """The parsed body if it is `model`; otherwise stop with the problem document the server sent."""
    if not isinstance(response.parsed, model):
        raise SystemExit(f"HTTP {response.status_code}: {response.content.decode()}")
    return response.parsed


def run(base_url: str, admin_key: str, *, brand: str = "acme", data: Path = HERE / "acme") -> dict[str, Any]:
    """The six steps; returns every parsed response, by step."""
    admin = AuthenticatedClient(base_url=base_url, token=admin_key)
    out: dict[str, Any] = {}
    # 1. The brand (admin key only).
    out["brand"] = expect(create_brand.sync_detailed(
        client=admin, body=BrandIn(id=brand, name="Acme Boardgames", language=BrandInLanguage.EN)), BrandOut)
    # 2. A key for the brand's editors: it drafts and reviews; its secret is shown once.
    out["key"] = expect(create_key.sync_detailed(brand, client=admin, body=KeyIn(
        actor="editor", scopes=[KeyInScopesItem.DRAFT, KeyInScopesItem.REVIEW])), KeyCreated)
    editor = AuthenticatedClient(base_url=base_url, token=out["key"].key)
    # 3. The charter, as the brand wrote it.
    out["charter"] = expect(put_charter.sync_detailed(
        brand, client=admin, body=CharterIn(content=(data / "charter.md").read_text(encoding="utf-8"))), CharterOut)
    # 4. The history: the file is the raw body; a background job imports it.
    history = data / "history.jsonl"
    with history.open("rb") as fh:
        job = expect(create_import.sync_detailed(brand, client=admin, body=File(payload=fh, file_name=history.name),
                                                 format_=CreateImportFormat.JSONL, filename=history.name), JobOut)
    while job.status in (JobOutStatus.QUEUED, JobOutStatus.RUNNING):
        time.sleep(0.5)
        job = expect(get_job.sync_detailed(job.id, client=admin), JobOut)
    out["job"] = job
    # 5. A ritual of the charter, drafted from the history; the ETag header is the draft's version.
    drafted = draft_ritual.sync_detailed(brand, client=editor, body=RitualDraftIn(ritual="Rules clinic"))
    out["draft"], etag = expect(drafted, DraftOut), drafted.headers["ETag"]
    # 6. The review: submit, then approve the version the editor read.
    out["submitted"] = expect(decide_draft.sync_detailed(
        out["draft"].id, client=editor, body=DecisionIn(action=DecisionInAction.SUBMIT), if_match=etag), DraftOut)
    out["approved"] = expect(decide_draft.sync_detailed(
        out["draft"].id, client=editor, body=DecisionIn(action=DecisionInAction.APPROVE, comment="Good to post"),
        if_match=etag), DraftOut)
    return out


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    result = run(url, sys.argv[2] if len(sys.argv) > 2 else "dev-admin-key")
    draft = result["approved"]
    print(f"{result['job'].counts.messages.inserted} messages imported; draft {draft.id} is {draft.status.value}:")
    print(f"# {draft.title}\n{draft.body}")
