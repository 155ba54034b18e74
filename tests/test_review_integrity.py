"""Review integrity (security issue 10, finding 3): a reviewer approves exactly the text they read, every
revision is guarded again, and approving a failing draft is an explicit, recorded override."""

from fastapi.testclient import TestClient

from copilot.runtime import Copilot
from copilot.sample import load_sample
from tests.conftest import make_key

HARD_SELL = ("DERNIÈRE CHANCE !!! -50% sur tout le stock, achetez maintenant avant minuit, offre limitée. "
             "Partagez ce post à 3 amis pour gagner un bon d'achat !")


def _submitted(client: TestClient, copilot: Copilot) -> tuple[dict[str, dict[str, str]], str, dict]:
    load_sample(copilot)
    keys = {s: make_key(client, "roue-libre", s) for s in ("read", "draft", "review")}
    draft = client.post("/v1/brands/roue-libre/rituals/drafts", json={"ritual": "qa_session", "language": "fr"},
                        headers=keys["draft"]).json()
    url = f"/v1/drafts/{draft['id']}"
    r = client.post(f"{url}/decisions", json={"action": "submit"}, headers=keys["draft"])
    assert r.status_code == 200 and r.json()["status"] == "in_review", r.text
    return keys, url, r.json()


def test_edit_during_review_returns_the_draft_and_a_stale_approval_is_refused(client: TestClient, copilot: Copilot):
    keys, url, seen = _submitted(client, copilot)
    assert seen["guards"]["ok"] is True  # the reviewer reads a clean draft at version 1
    edited = client.patch(url, json={"body": HARD_SELL}, headers=keys["draft"] | {"If-Match": f'"{seen["version"]}"'})
    assert edited.status_code == 200 and edited.json()["status"] == "drafted"
    assert edited.json()["guards"]["ok"] is False and edited.json()["guards"]["drift"]["verdict"] == "drift"

    stale = client.post(f"{url}/decisions", json={"action": "approve"},
                        headers=keys["review"] | {"If-Match": f'"{seen["version"]}"'})
    assert stale.status_code == 412 and stale.json()["current_version"] == seen["version"] + 1
    blind = client.post(f"{url}/decisions", json={"action": "approve"}, headers=keys["review"])
    assert blind.status_code == 409 and blind.json()["draft_status"] == "drafted"
    assert copilot.store.get_draft(seen["id"]).status == "drafted"

    history = client.get(f"{url}/history", headers=keys["read"]).json()
    withdraw = history["decisions"][-1]
    assert (withdraw["action"], withdraw["from_status"], withdraw["to_status"]) == ("withdraw", "in_review", "drafted")
    assert withdraw["version"] == 2 and withdraw["actor"] == "roue-libre-bot"


def test_failing_guards_need_a_recorded_override(client: TestClient, copilot: Copilot):
    keys, url, seen = _submitted(client, copilot)
    client.patch(url, json={"body": HARD_SELL}, headers=keys["draft"] | {"If-Match": '"1"'})
    client.post(f"{url}/decisions", json={"action": "submit"}, headers=keys["draft"])

    refused = client.post(f"{url}/decisions", json={"action": "approve"}, headers=keys["review"] | {"If-Match": '"2"'})
    assert refused.status_code == 409 and refused.json()["type"].endswith("/guards-failed")
    assert "drift" in refused.json()["failed_guards"] and "drift" in refused.json()["detail"]
    assert copilot.store.get_draft(seen["id"]).status == "in_review"
    no_reason = client.post(f"{url}/decisions", json={"action": "approve", "override_guards": True},
                            headers=keys["review"])
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "comment"

    ok = client.post(f"{url}/decisions", json={"action": "approve", "override_guards": True,
                                                "comment": "annonce légale validée par le juridique"},
                     headers=keys["review"] | {"If-Match": '"2"'})
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    decisions = client.get(f"{url}/history", headers=keys["read"]).json()["decisions"]
    override, approve = decisions[-2], decisions[-1]
    assert override["action"] == "override_guards" and "drift" in override["comment"]
    assert "juridique" in override["comment"] and override["from_status"] == override["to_status"] == "in_review"
    assert approve["action"] == "approve" and approve["version"] == 2


def test_every_revision_recomputes_the_guards(client: TestClient, copilot: Copilot):
    keys, url, seen = _submitted(client, copilot)
    bad = client.patch(url, json={"body": HARD_SELL}, headers=keys["draft"] | {"If-Match": '"1"'}).json()
    assert bad["guards"]["ok"] is False and bad["guards"]["exclamation"]["count"] == HARD_SELL.count("!")
    calm = "Cette semaine, posez vos questions en réponse : les membres qui ont eu le même souci répondent aussi."
    good = client.patch(url, json={"body": calm}, headers=keys["draft"] | {"If-Match": '"2"'}).json()
    assert good["guards"]["ok"] is True and good["guards"]["drift"]["verdict"] == "ok"
    assert good["guards"]["length"]["chars"] == len(calm)


def test_a_stale_if_match_is_refused_for_every_decision(client: TestClient, copilot: Copilot):
    keys, url, _ = _submitted(client, copilot)
    for action, key in (("request_changes", "review"), ("reject", "review")):
        r = client.post(f"{url}/decisions", json={"action": action, "comment": "x"},
                        headers=keys[key] | {"If-Match": '"7"'})
        assert r.status_code == 412, (action, r.text)
    assert client.get(url, headers=keys["read"]).json()["status"] == "in_review"
