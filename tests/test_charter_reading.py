"""LLM-assisted charter reading (issue 13): the model's findings are checked against the charter's own words,
merged with the rules parse, and applied only when the CM confirms them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.embed import HashEmbedder
from copilot.ingest.charter import parse_charter
from copilot.runtime import Copilot
from copilot.settings import Settings
from tests.conftest import ADMIN
from tests.fakes import FakeLLM

CHARTER = """# Charte de la communauté Atelier Pixel

## Ton
On se tutoie. Pas plus de deux émojis par message.

## Vocabulaire
On ne dit pas « clients », on dit « membres ».
Le mot « promo » nous fait grincer des dents.

## Promotion
Ne demande jamais aux membres de partager nos publications sur leurs réseaux.
"""
READING = {
    "banned_terms": [{"term": "clients", "quote": "On ne dit pas « clients », on dit « membres »"},
                     {"term": "promo", "quote": "Le mot « promo » nous fait grincer des dents"},
                     {"term": "gratuit", "quote": "N'écrivez jamais « gratuit » dans un titre"}],
    "preferred_terms": [],
    "rules": [{"type": "no_share_asks", "quote": "Ne demande jamais aux membres de partager nos publications"},
              {"type": "no_superlatives", "quote": "Le mot « promo » nous fait grincer des dents"}],
    "register": {"register": "tu", "quote": "On se tutoie."},
    "emoji_limit": None, "exclamation_limit": None,
}


def _client(settings: Settings, *answers: Any) -> tuple[TestClient, Copilot, FakeLLM]:
    llm = FakeLLM(*answers, attempts=2)
    c = Copilot(settings, embedder=HashEmbedder(), llm=llm)
    client = TestClient(create_app(settings, copilot=c))
    client.__enter__()
    assert client.post("/v1/brands", json={"id": "pixel", "name": "Atelier Pixel", "language": "fr"},
                       headers=ADMIN).status_code == 201
    return client, c, llm


def test_findings_are_checked_merged_and_wait_for_the_cm(settings: Settings):
    rules = parse_charter(CHARTER, "markdown")
    assert "promo" not in {t.term for t in rules.banned_terms}  # what the model adds is new to the rules parse
    client, c, llm = _client(settings, READING)
    try:
        r = client.put("/v1/brands/pixel/charter", json={"content": CHARTER, "format": "markdown"}, headers=ADMIN)
        assert r.status_code == 200, r.text
        charter = r.json()["charter"]
        review = charter["review"]
        assert not review["degraded"] and review["model"]
        proposals = {p["term"] or p["rule_type"]: p for p in charter["proposals"]}
        # "promo" is new and quoted from the text; "gratuit" quotes words the charter does not hold.
        assert "promo" in proposals and proposals["promo"]["passage_id"]
        assert "gratuit" not in proposals and any("gratuit" in x and "not in the charter" in x for x in review["refused"])
        assert review["agreed"] >= 2  # 'clients', the tu register (and the share rule when the rules read it)
        # Nothing the model said is applied yet.
        assert "promo" not in {t["term"] for t in charter["banned_terms"]}
        assert llm.calls and "Atelier Pixel" in llm.calls[0]["user"]

        # The CM confirms 'promo' and dismisses the other proposals: a new version applies it.
        others = [p["id"] for k, p in proposals.items() if k != "promo"]
        r = client.post("/v1/brands/pixel/charter/findings", json={"accept": [proposals["promo"]["id"]],
                                                                    "reject": others}, headers=ADMIN)
        assert r.status_code == 200, r.text
        decided = r.json()
        assert decided["version"] == 2 and not decided["charter"]["proposals"]
        assert "promo" in {t["term"] for t in decided["charter"]["banned_terms"]}
        check = client.post("/v1/brands/pixel/drift/checks", json={"text": "Grosse promo sur les stickers"},
                            headers=ADMIN).json()
        assert any(f["type"] == "banned_term" and f["excerpt"].lower() == "promo" for f in check["flags"])

        # A later edit that keeps the sentence keeps the confirmation; one that drops it drops it.
        llm.queue.append({"banned_terms": [], "preferred_terms": [], "rules": []})
        edited = CHARTER.replace("On se tutoie.", "On se tutoie toujours.")
        kept = client.put("/v1/brands/pixel/charter", json={"content": edited}, headers=ADMIN).json()["charter"]
        assert "promo" in {t["term"] for t in kept["banned_terms"]} and kept["confirmed"]
        llm.queue.append({"banned_terms": [], "preferred_terms": [], "rules": []})
        dropped = client.put("/v1/brands/pixel/charter", json={"content": edited.replace(
            "Le mot « promo » nous fait grincer des dents.\n", "")}, headers=ADMIN).json()["charter"]
        assert "promo" not in {t["term"] for t in dropped["banned_terms"]} and not dropped["confirmed"]

        r = client.post("/v1/brands/pixel/charter/findings", json={"accept": ["0123456789ab"]}, headers=ADMIN)
        assert r.status_code == 422 and "0123456789ab" in r.json()["detail"]
    finally:
        client.__exit__(None, None, None)


def test_a_reading_made_up_is_refused_with_reasons_and_the_rules_parse_stands(settings: Settings):
    invented = {"banned_terms": [{"term": "bitcoin", "quote": "Ne parlez jamais de bitcoin"},
                                 {"term": "NFT", "quote": "Les NFT sont interdits ici"}],
                "preferred_terms": [], "rules": [{"type": "no_urgency", "quote": "Pas de compte à rebours"}]}
    client, c, llm = _client(settings, invented, invented)
    try:
        r = client.put("/v1/brands/pixel/charter", json={"content": CHARTER}, headers=ADMIN)
        assert r.status_code == 200
        charter = r.json()["charter"]
        assert charter["review"]["degraded"] and "not in the charter" in charter["review"]["degraded_reason"]
        assert not charter["proposals"]
        assert llm.queue == [] and "attempt 2" in charter["review"]["degraded_reason"]  # refused, retried, refused
        assert {t["term"] for t in charter["banned_terms"]} == {t.term for t in parse_charter(CHARTER).banned_terms}
        # The same content again: no new version, no second reading.
        again = client.put("/v1/brands/pixel/charter", json={"content": CHARTER}, headers=ADMIN).json()
        assert again["created"] is False and again["version"] == 1
    finally:
        client.__exit__(None, None, None)
