import threading

from fastapi.testclient import TestClient

from copilot.features.rituals import RitualRequest
from copilot.runtime import Copilot
from copilot.sample import load_sample
from tests.conftest import make_key


def setup(client: TestClient, copilot: Copilot):
    load_sample(copilot)
    keys = {s: make_key(client, "roue-libre", s) for s in ("read", "draft", "review")}
    draft = client.post("/v1/brands/roue-libre/rituals/drafts", json={"ritual": "Jeudi réparation"},
                        headers=keys["draft"]).json()
    return keys, draft


def test_full_lifecycle_with_revisions_and_history(client: TestClient, copilot: Copilot):
    keys, draft = setup(client, copilot)
    url = f"/v1/drafts/{draft['id']}"
    got = client.get(url, headers=keys["read"])
    assert got.headers["etag"] == '"1"' and got.json()["status"] == "drafted"
    assert client.patch(url, json={"body": "x"}, headers=keys["draft"]).status_code == 428
    edited = client.patch(url, json={"body": "Pose ta question, les membres répondent.", "note": "plus court"},
                          headers=keys["draft"] | {"If-Match": '"1"'})
    assert edited.status_code == 200 and edited.json()["version"] == 2 and edited.headers["etag"] == '"2"'
    stale = client.patch(url, json={"body": "autre"}, headers=keys["draft"] | {"If-Match": "1"})
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    assert client.post(f"{url}/decisions", json={"action": "approve"}, headers=keys["review"]).status_code == 409
    assert client.post(f"{url}/decisions", json={"action": "submit"}, headers=keys["draft"]).json()["status"] == "in_review"
    assert client.post(f"{url}/decisions", json={"action": "approve"}, headers=keys["draft"]).status_code == 403
    r = client.post(f"{url}/decisions", json={"action": "request_changes", "comment": "cite le rituel"},
                    headers=keys["review"])
    assert r.json()["status"] == "changes_requested"
    client.patch(url, json={"body": "Jeudi réparation : pose ta question, les membres répondent."},
                 headers=keys["draft"] | {"If-Match": '"2"'})
    client.post(f"{url}/decisions", json={"action": "submit"}, headers=keys["draft"])
    assert client.post(f"{url}/decisions", json={"action": "approve", "comment": "parfait"},
                       headers=keys["review"]).json()["status"] == "approved"
    assert client.patch(url, json={"body": "trop tard"}, headers=keys["draft"] | {"If-Match": '"3"'}).status_code == 409
    published = client.post(f"{url}/decisions", json={"action": "publish", "permalink": "https://x.example/p/1"},
                            headers=keys["draft"]).json()
    assert published["status"] == "published" and published["published_permalink"] == "https://x.example/p/1"
    again = client.post(f"{url}/decisions", json={"action": "reject"}, headers=keys["review"])
    assert again.status_code == 409 and again.json()["type"].endswith("/illegal-transition")
    history = client.get(f"{url}/history", headers=keys["read"]).json()
    assert [r["version"] for r in history["revisions"]] == [1, 2, 3]
    assert [d["action"] for d in history["decisions"]] == ["submit", "request_changes", "submit", "approve", "publish"]
    assert history["decisions"][1]["comment"] == "cite le rituel" and history["decisions"][1]["actor"] == "roue-libre-bot"
    listed = client.get("/v1/brands/roue-libre/drafts", params={"status": "published"}, headers=keys["read"]).json()
    assert [d["id"] for d in listed["items"]] == [draft["id"]] and listed["total"] == 1


def test_concurrent_edits_exactly_one_wins(client: TestClient, copilot: Copilot):
    keys, draft = setup(client, copilot)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def guarded(text):
        barrier.wait()
        try:
            results.append(copilot.review.edit(draft["id"], if_match=1, title=None, body=text, variants=None,
                                               note=None, actor="ed"))
        except Exception as exc:  # the loser gets DraftVersionConflict
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in ("A", "B")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(results) == 1 and errors == ["DraftVersionConflict"]
    assert copilot.store.get_draft(draft["id"]).version == 2


def test_editor_decisions_feed_back_into_later_drafts(client: TestClient, copilot: Copilot):
    keys, first = setup(client, copilot)
    url = f"/v1/drafts/{first['id']}"
    edited = "Jeudi réparation, 18h : pose ta question en réponse, et si tu sais, réponds aux autres !"
    client.patch(url, json={"body": edited}, headers=keys["draft"] | {"If-Match": "1"})
    client.post(f"{url}/decisions", json={"action": "submit"}, headers=keys["draft"])
    client.post(f"{url}/decisions", json={"action": "approve"}, headers=keys["review"])
    second = client.post("/v1/brands/roue-libre/rituals/drafts", json={"ritual": "Jeudi réparation"},
                         headers=keys["draft"]).json()
    # The approved text is a model, never served again as is; the variant closest to it leads.
    assert second["learned_from"]["examples"] == [first["id"]]
    assert edited not in [second["body"], *second["variants"]] and second["variants"]
    words = lambda t: set(t.lower().split())  # noqa: E731
    closeness = [len(words(t) & words(edited)) / len(words(t) | words(edited)) for t in [second["body"], *second["variants"]]]
    assert closeness[0] == max(closeness)
    client.post(f"/v1/drafts/{second['id']}/decisions", json={"action": "reject", "comment": "déjà publié la semaine dernière"},
                headers=keys["review"])
    third = client.post("/v1/brands/roue-libre/rituals/drafts", json={"ritual": "Jeudi réparation"},
                        headers=keys["draft"]).json()
    assert second["body"] not in [third["body"], *third["variants"]] and third["learned_from"]["avoided"][0] == {
        "id": second["id"], "reason": "déjà publié la semaine dernière"}
    # With an LLM, examples and rejection reasons are in the prompt.
    from tests.fakes import FakeLLM

    fake = FakeLLM({"title": "Jeudi réparation", "body": "Jeudi réparation : pose ta question en réponse, les membres "
                                                         "t'aident aussi.", "citations": ["rituels-2"]})
    copilot.rituals.llm = fake
    copilot.rituals.draft("roue-libre", RitualRequest(ritual="Jeudi réparation"), actor="ed")
    assert "réponds aux autres" in fake.calls[0]["user"] and "déjà publié la semaine dernière" in fake.calls[0]["user"]


def test_drift_rewrite_enters_review(client: TestClient, copilot: Copilot):
    keys, _ = setup(client, copilot)
    body = {"text": "PROMO FLASH ce soir seulement, partage et tague 3 amis !!!", "save_rewrite": True}
    assert client.post("/v1/brands/roue-libre/drift/checks", json=body, headers=keys["read"]).status_code == 403
    out = client.post("/v1/brands/roue-libre/drift/checks", json=body, headers=keys["draft"]).json()
    draft = client.get(f"/v1/drafts/{out['rewrite_draft_id']}", headers=keys["read"]).json()
    assert draft["kind"] == "rewrite" and draft["status"] == "drafted" and draft["body"] == out["rewrite"]
