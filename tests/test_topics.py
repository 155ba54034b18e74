"""What members talk about, as the rules-engine drafts say it (issue 11, point 3).

The chats below were written for these tests, about subjects no code path knows (a pottery club, a tea shop, a
chess club): each expectation is what a person reading the chat would list, or refuse to list.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient

from copilot.compose import topics_of
from tests.conftest import ADMIN, wait_job


def test_a_word_many_messages_share_is_no_topic_without_a_phrase():
    texts = ["La cuisson est lancée ce matin", "Qui a réglé la cuisson hier ?", "Ma cuisson a encore fait des siennes",
             "la cuisson du club est prévue jeudi", "Cuisson réservée pour samedi"]
    assert topics_of(texts) == []  # "cuisson" alone says nothing: no "on a parlé de cuisson"


def test_actions_are_not_subjects_but_their_objects_can_be():
    texts = ["Can you export settings from the old app?", "I export settings every week, is that wise?",
             "We export settings to a file but the import fails", "the glaze recipe book is out",
             "where is the glaze recipe book kept?"]
    topics = topics_of(texts, authors=["a", "b", "c", "d", "e"])
    assert "export settings" not in topics  # "you export", "I export": a verb in these very texts
    assert topics[0] == "glaze recipe book"


def test_a_phrase_several_people_use_leads_one_a_single_person_repeats():
    texts = ["oolong brewing time?", "oolong brewing time again, sorry", "oolong brewing time, last try",
             "the loyalty card expired", "is my loyalty card still valid?", "loyalty card question here"]
    authors = ["ana", "ana", "ana", "bo", "cy", "di"]
    assert topics_of(texts, n=1, authors=authors) == ["loyalty card"]
    # The same message pasted twice is one mention: nothing recurs here.
    assert topics_of(["Rook endgame drill tonight?", "Rook endgame drill tonight?"], authors=["x", "y"]) == []


def test_phrases_stay_inside_a_sentence_and_come_back_as_members_write_them():
    texts = ["We played Sicilian Defence all night. Openings were fun", "Sicilian Defence, again. Openings next?",
             "tried the `fast-castle` trick", "the fast-castle trick failed me"]
    topics = topics_of(texts)
    assert "Sicilian Defence" in topics and "fast-castle trick" in topics
    assert not any("openings" in t.lower() and "defence" in t.lower() for t in topics)  # across a full stop


CHARTER = """# Club Argile
## Ton
On tutoie les membres.
## Rituels
- **Le rendez-vous du tour** : chaque mardi, questions-réponses sur le tournage, les membres répondent aussi.
- **La vitrine du mois** : une fois par mois, chacun montre une pièce terminée, photo bienvenue.
"""


def _history(now: datetime, texts: list[tuple[str, str]]) -> bytes:
    lines = [{"type": "member", "source_id": who, "name": who.title()} for who in sorted({w for w, _ in texts})]
    lines += [{"type": "message", "source_id": f"m{i}", "author": who, "created_at": (now - timedelta(days=1 + i % 9)).isoformat(),
               "kind": "question" if text.endswith("?") else "answer", "channel": "atelier", "text": text}
              for i, (who, text) in enumerate(texts)]
    return "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode("utf-8")


def _load(client: TestClient, brand: str, texts: list[tuple[str, str]]) -> None:
    assert client.put(f"/v1/brands/{brand}/charter", json={"content": CHARTER}, headers=ADMIN).status_code == 200
    r = client.post(f"/v1/brands/{brand}/imports", params={"format": "jsonl", "filename": "h.jsonl"},
                    content=_history(datetime.now(timezone.utc), texts),
                    headers=ADMIN | {"content-type": "application/octet-stream"})
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])
    assert job["status"] == "succeeded", job


def _draft(client: TestClient, brand: str, ritual: str, **extra) -> dict:
    r = client.post(f"/v1/brands/{brand}/rituals/drafts", json={"ritual": ritual, "variants": 2, **extra}, headers=ADMIN)
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_a_draft_claims_no_subject_the_history_does_not_show(client: TestClient, brand: str):
    _load(client, brand, [("lea", "Mon émail a coulé au four, une idée ?"), ("max", "Trop épais sans doute."),
                          ("noa", "Quelqu'un a un tour libre samedi ?"), ("lea", "Merci Max !")])
    for ritual in ("Le rendez-vous du tour", "La vitrine du mois"):
        draft = _draft(client, brand, ritual)
        assert draft["grounding"]["topics"] == []
        for text in [draft["title"], draft["body"], *draft["variants"]]:
            assert "parlé de" not in text and "Sujets" not in text and "sujets" not in text, text
            assert not any(bad in text for bad in (" de les ", " de le ", " à les ", "  ", " .", "\n ")), text
        assert draft["variants"] and draft["variants"][0] != draft["body"]


def test_recurring_subjects_are_listed_and_an_editors_theme_is_a_theme(client: TestClient, brand: str):
    _load(client, brand, [("lea", "Comment centrer la terre sur le tour ?"), ("max", "Pour centrer la terre, mouille bien."),
                          ("noa", "Mes anses de tasse se fendent au séchage ?"), ("lea", "Les anses de tasse, il faut les sécher lentement."),
                          ("zoe", "Et les anses de tasse en grès ?"), ("max", "La terre de grès chamotté aide.")])
    draft = _draft(client, brand, "Le rendez-vous du tour")
    assert draft["grounding"]["topics"] == ["anses de tasse"]  # a subject; "centrer la terre" is an action
    assert "Sujets qui reviennent ces jours-ci : anses de tasse." in draft["body"]
    themed = _draft(client, brand, "La vitrine du mois", theme="les pièces ratées")
    assert "les pièces ratées" in themed["body"] and "« les pièces ratées »" not in themed["body"]  # not a quote
    listed = themed["body"].split("les pièces ratées", 1)[1]
    assert "anses de tasse" in listed  # what members bring up is still there, apart from the theme


def test_a_phrase_keeps_its_elided_article_and_time_words_are_no_subject():
    texts = ["Le traitement à l'acide formique, c'est quand ?", "J'ai fait le traitement à l'acide formique hier",
             "traitement à l'acide formique : gants obligatoires", "On passe au sirop maintenant ?",
             "sirop maintenant ou en janvier ?"]
    topics = topics_of(texts, authors=["a", "b", "c", "d", "e"])
    assert "traitement à l'acide formique" in topics
    assert not any("maintenant" in t for t in topics)


RITUAL_CHARTER = """# Club Argile
## Ton
On tutoie les membres.
## Rituels
- **Le rendez-vous du tour** : chaque mardi, questions-réponses sur le tournage dans #atelier-tour. Il commence
  par « Au tour cette semaine : » et les membres répondent aussi.
"""


def test_earlier_editions_are_found_by_the_opening_the_charter_gives_and_the_channel_it_names(client: TestClient,
                                                                                              brand: str):
    now = datetime.now(timezone.utc)
    lines = [{"type": "member", "source_id": "equipe", "name": "L'équipe", "role": "staff"},
             {"type": "member", "source_id": "lea", "name": "Léa"}]
    lines += [{"type": "message", "source_id": f"e{d}", "author": "equipe", "created_at": (now - timedelta(days=d)).isoformat(),
               "kind": "post", "channel": "atelier-tour", "text": f"Au tour cette semaine : centrage, tournassage ({d})."}
              for d in (7, 14)]
    lines += [{"type": "message", "source_id": "q1", "author": "lea", "created_at": (now - timedelta(days=2)).isoformat(),
               "kind": "question", "channel": "general", "text": "Comment garder un fond épais ?"}]
    assert client.put(f"/v1/brands/{brand}/charter", json={"content": RITUAL_CHARTER}, headers=ADMIN).status_code == 200
    r = client.post(f"/v1/brands/{brand}/imports", params={"format": "jsonl", "filename": "h.jsonl"},
                    content="\n".join(json.dumps(x, ensure_ascii=False) for x in lines).encode("utf-8"),
                    headers=ADMIN | {"content-type": "application/octet-stream"})
    assert wait_job(client, r.json()["id"])["status"] == "succeeded"
    draft = _draft(client, brand, "Le rendez-vous du tour")
    assert {p["id"] for p in draft["grounding"]["past_editions"]} == {"e7", "e14"}
    assert draft["suggested_channel"] == "atelier-tour"


DIGEST_CHARTER = """# Club Argile
## Ton
On tutoie les membres.
## Rituels
- **La gazette du tour** : chaque vendredi, l'équipe reprend les questions de la semaine et qui y a répondu.
"""


def test_a_round_up_ritual_lists_the_weeks_questions_with_who_answered(client: TestClient, brand: str):
    now = datetime.now(timezone.utc)
    lines = [{"type": "member", "source_id": s, "name": n} for s, n in (("lea", "Léa Morin"), ("max", "Max Roux"),
                                                                         ("noa", "Noa Petit"))]
    msg = lambda sid, who, d, kind, text, to=None: {  # noqa: E731
        "type": "message", "source_id": sid, "author": who, "created_at": (now - timedelta(days=d)).isoformat(),
        "kind": kind, "channel": "atelier", "text": text, **({"reply_to": to, "thread": to} if to else {})}
    lines += [msg("q1", "lea", 3, "question", "Comment éviter les fissures au séchage ?"),
              msg("a1", "max", 2.9, "answer", "Sèche lentement sous un plastique.", "q1"),
              msg("a2", "noa", 2.8, "answer", "Et retourne la pièce à mi-séchage.", "q1"),
              msg("q2", "noa", 1, "question", "Quelle température pour un biscuit en faïence ?")]
    assert client.put(f"/v1/brands/{brand}/charter", json={"content": DIGEST_CHARTER}, headers=ADMIN).status_code == 200
    r = client.post(f"/v1/brands/{brand}/imports", params={"format": "jsonl", "filename": "h.jsonl"},
                    content="\n".join(json.dumps(x, ensure_ascii=False) for x in lines).encode("utf-8"),
                    headers=ADMIN | {"content-type": "application/octet-stream"})
    assert wait_job(client, r.json()["id"])["status"] == "succeeded"
    body = _draft(client, brand, "La gazette du tour")["body"]
    assert "« Comment éviter les fissures au séchage ? » : réponse de Max Roux et Noa Petit." in body
    assert "Toujours sans réponse : « Quelle température pour un biscuit en faïence ? »" in body
    assert "Ajoute-le en réponse" in body  # the charter's tu
