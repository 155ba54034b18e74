import json
from pathlib import Path
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from copilot.evals import evaluate_drift, read_labelled
from copilot.features.drift import DriftResult, FeedStats, check_text
from copilot.ingest.charter import parse_charter
from copilot.runtime import Copilot
from tests.conftest import ROOT, make_key, shared

CHARTER = parse_charter((ROOT / "knowledge" / "charter.md").read_text(encoding="utf-8"))
NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)


def test_every_flag_has_an_exact_span_and_a_real_clause():
    text = "PROMO FLASH -30% sur tous les antivols, DERNIÈRE CHANCE ce soir minuit !!! Dépêche-toi !!!"
    result = check_text(text, charter=CHARTER, feed=FeedStats(brand_posts=10, promotional_posts=1))
    assert result.verdict == "drift" and result.promotional
    passages = {p.id for p in CHARTER.passages} | {"front-matter"}
    for flag in result.flags:
        assert text[flag.start:flag.end] == flag.excerpt and flag.explanation
        if flag.charter_clause:
            assert flag.charter_clause.passage_id in passages
    types = {f.type for f in result.flags}
    assert {"urgency", "hard_sell", "banned_term", "promo_quota"} <= types
    banned = next(f for f in result.flags if f.type == "banned_term" and f.excerpt == "DERNIÈRE CHANCE")
    assert "dernière chance" in banned.charter_clause.text


def test_rewrite_keeps_information_and_drops_pressure():
    text = "Partage ce post et tague 3 amis pour gagner ! Les antivols U passent à 39 € jusqu'à dimanche, vite !!!"
    result = check_text(text, charter=CHARTER, feed=FeedStats(brand_posts=20, promotional_posts=0))
    assert result.rewrite and "39 €" in result.rewrite and "dimanche" in result.rewrite
    assert "tague" not in result.rewrite and "!!!" not in result.rewrite and "vite" not in result.rewrite
    assert result.rewrite.endswith("ce qui marche pour toi.")


def test_sample_brand_rituals_and_genuine_posts_are_never_drift():
    rows = [json.loads(line) for line in (ROOT / "knowledge" / "history.jsonl").read_text(encoding="utf-8").splitlines()]
    staff = {r["source_id"] for r in rows if r["type"] == "member" and r["role"] in ("staff", "bot")}
    posts = {r["source_id"]: r["text"] for r in rows if r["type"] == "message" and r["author"] in staff}
    verdicts = {i: check_text(t, charter=CHARTER).verdict for i, t in posts.items()}
    rituals = [i for i, t in posts.items() if any(k in t for k in ("carnet du lundi", "Jeudi réparation", "Fil de bienvenue"))]
    assert len(rituals) >= 10 and all(verdicts[i] == "ok" for i in rituals)
    # Labelled by hand from reading the brand's 54 posts: three pushes (a flash sale with a countdown, a share-and-tag
    # contest, a string of asks for reviews and follows); every other one informs, apologises, thanks or answers.
    pushes = {"m0131", "m0275", "m0413"}
    assert {i for i, v in verdicts.items() if v == "drift"} == pushes
    assert all(verdicts[i] == "ok" for i in posts if i not in pushes)


def test_a_promotional_post_is_fine_under_quota_and_flagged_over_it():
    text = "Le nouveau porte-bagages est disponible à 49 € en boutique, avec une remise de 10 % pour les membres."
    under = check_text(text, charter=CHARTER, feed=FeedStats(brand_posts=19, promotional_posts=0))
    assert under.promotional and under.verdict != "drift" and "promo_quota" not in {f.type for f in under.flags}
    over = check_text(text, charter=CHARTER, feed=FeedStats(brand_posts=10, promotional_posts=3,
                                                             recent_promotional=[True, False, True, True]))
    quota = next(f for f in over.flags if f.type == "promo_quota")
    assert over.verdict == "drift" and quota.charter_clause.passage_id == CHARTER.promotion_policy.passage_id
    assert "posture_change" in {f.type for f in over.flags}


def test_charter_tone_limits_and_register():
    loud = check_text("Super sortie 🚲🚲🚲🚲🚲 !!! Merci à tous !!!", charter=CHARTER)
    assert {f.type for f in loud.flags} == {"off_tone"} and len(loud.flags) == 2
    vous = check_text("Pourriez-vous nous dire ce que vous pensez de votre nouveau vélo ?", charter=CHARTER)
    flag = next(f for f in vous.flags if f.type == "off_tone")
    assert flag.excerpt == "vous" and flag.severity == "low" and vous.verdict == "ok"


@pytest.mark.parametrize("path", ["tests/data/brand_posts.jsonl"])
def test_labelled_brand_posts(path):
    metrics = evaluate_drift(read_labelled(ROOT / path), charter=CHARTER)
    assert metrics["n"] == 40 and metrics["f1"] >= 0.95 and metrics["false_positive_rate"] == 0.0
    assert set(metrics["by_lang"]) == {"en", "fr"}


def test_targets_on_the_shared_spam_sets():
    yt = evaluate_drift(read_labelled(shared("spam_youtube_comments_en", "dev.jsonl")))
    sms = evaluate_drift(read_labelled(shared("spam_sms_en", "dev.jsonl")))
    assert yt["f1"] >= 0.85 and sms["f1"] >= 0.75, (yt, sms)


class FakeJudge:
    def __init__(self, error: Exception | None = None):
        self.error, self.calls = error, []

    def judge(self, text, rules: DriftResult, *, charter, feed, brand="", started=None):
        self.calls.append((text, feed))
        if self.error:
            raise self.error
        return rules.model_copy(update={"engine": "rules+llm", "score": max(rules.score, 0.5), "verdict": "watch"})


def _load_sample(copilot: Copilot) -> None:
    from copilot.sample import load_sample

    load_sample(copilot)
    copilot.drift.clock = lambda: NOW


def test_judge_merges_and_failures_degrade_to_rules(copilot: Copilot):
    _load_sample(copilot)
    copilot.drift.judge = FakeJudge()
    merged = copilot.drift.check("roue-libre", "Sortie dimanche, qui vient ?")
    assert merged["engine"] == "rules+llm" and merged["verdict"] == "watch"
    assert copilot.drift.judge.calls[0][1]["brand_posts"] > 0
    copilot.drift.judge = FakeJudge(TimeoutError("model timed out"))
    degraded = copilot.drift.check("roue-libre", "Sortie dimanche, qui vient ?")
    assert degraded["engine"] == "rules" and degraded["degraded"] and "timed out" in degraded["degraded_reason"]
    assert degraded["verdict"] == "ok"


def test_drift_endpoints(client: TestClient, copilot: Copilot):
    _load_sample(copilot)
    key = make_key(client, "roue-libre", "read")
    r = client.post("/v1/brands/roue-libre/drift/checks", headers=key,
                    json={"text": "Dernière chance !!! Partage et tague 3 amis pour gagner un casque"})
    body = r.json()
    assert r.status_code == 200 and body["verdict"] == "drift" and body["engine"] == "rules" and not body["degraded"]
    assert body["feed"]["max_promotional_share"] == 0.1 and body["charter_version"] == 1
    assert client.post("/v1/brands/roue-libre/drift/checks", headers=key, json={"text": ""}).status_code == 422
    report = client.get("/v1/brands/roue-libre/drift/report", params={"window_days": 60}, headers=key).json()
    assert report["brand_posts"] > 10 and 0 < report["promo_share"] <= 0.3
    assert report["over_quota"] == (report["promo_share"] > 0.1) and report["max_promotional_share"] == 0.1
    assert [w["week_start"] for w in report["weekly"]] == sorted(w["week_start"] for w in report["weekly"])
    assert report["worst_posts"][0]["verdict"] == "drift" and report["worst_posts"][0]["flags"]
    assert 0 < report["brand_share"] < 0.3 and report["member_contributions"] > 0
    assert report["unacknowledged"] >= 1 and set(report["definitions"]) >= {"promo_share", "unacknowledged"}
    bad = client.get("/v1/brands/roue-libre/drift/report", params={"window_days": 0}, headers=key)
    assert bad.status_code == 422 and bad.json()["field"] == "query.window_days"


def test_eval_drift_cli_prints_metrics_and_baseline():
    from typer.testing import CliRunner

    from copilot.cli import app

    r = CliRunner().invoke(app, ["eval", "drift", "--data", str(ROOT / "tests/data/brand_posts.jsonl"),
                                 "--charter", str(ROOT / "knowledge/charter.md"), "--json"])
    out = json.loads(r.output)
    assert r.exit_code == 0 and set(out) >= {"precision", "recall", "f1", "false_positive_rate", "n", "by_lang"}
    # Hand-checkable: the metrics are those of the rows, and the baseline beats always answering "drift".
    rows = [json.loads(line) for line in (ROOT / "tests/data/brand_posts.jsonl").read_text(encoding="utf-8").splitlines()]
    share = sum(r["label"] == "drift" for r in rows) / len(rows)
    assert out["n"] == len(rows) and out["baseline"]["available"]
    assert out["baseline"]["f1"] > 2 * share / (1 + share)  # F1 of the constant "drift" predictor


def test_llm_judge_through_the_llm_layer(settings):
    from copilot.embed import HashEmbedder
    from tests.fakes import FakeLLM

    fake = FakeLLM({"verdict": "ok", "score": 0.1, "reasons": ["honest stock information"]})
    c = Copilot(settings, embedder=HashEmbedder(), llm=fake)
    _load_sample(c)
    out = c.drift.check("roue-libre", "Les garde-boue sont de retour jeudi, merci pour ta patience.")
    assert out["engine"] == "rules+llm" and out["verdict"] == "ok" and not out["degraded"]
    assert any(f["type"] == "llm_judgement" for f in out["flags"]) and "<community_data" in fake.calls[0]["user"]
    c.drift.judge.llm = FakeLLM("not json", "still not json", "nope")
    out = c.drift.check("roue-libre", "PROMO FLASH dernière chance !!!")
    assert out["engine"] == "rules" and out["degraded"] and out["verdict"] == "drift"
    c.close()


def test_the_quota_is_not_judged_on_a_handful_of_posts():
    """One factual announcement among six brand posts does not put a feed 'over quota' (issue 11)."""
    text = "Le nouveau porte-bagages est disponible à 49 € en boutique."
    few = check_text(text, charter=CHARTER, feed=FeedStats(brand_posts=5, promotional_posts=1))
    assert "promo_quota" not in {f.type for f in few.flags}
    enough = check_text(text, charter=CHARTER, feed=FeedStats(brand_posts=12, promotional_posts=3))
    assert "promo_quota" in {f.type for f in enough.flags}


def _corpus_charters(folder: Path) -> dict:
    from copilot.ingest.charter import parse_charter

    return {p.stem: parse_charter(p.read_text(encoding="utf-8"), filename=p.name) for p in sorted(folder.iterdir())
            if p.suffix in (".md", ".yaml", ".json") and not p.name.endswith(".expected.json")}


@pytest.mark.parametrize("data, charters, floor", [
    # Development set: the rules were tuned while reading it (F1 0.58 -> 0.87 -> 0.90; 0.98 after the family
    # changes below), FPR 0.04.
    ("tests/data/drift_frozen.jsonl", "tests/charters_corpus", {"f1": 0.93, "fpr": 0.06}),
    # Written by an outsider who never read the code. Measured before any change: F1 0.61, FPR 0.07. Then tuned
    # on (charter term reader; the "do not use" words of preferred terms; scarcity, gated and share-ask phrasing;
    # stated limits at medium severity): F1 0.93, FPR 0.05; 0.97, FPR 0.02 now. A development set.
    ("tests/data/drift_unseen.jsonl", "tests/charters_unseen", {"f1": 0.93, "fpr": 0.05}),
    # A second outsider set: F1 0.49 (English 0.24, French 0.67), FPR 0.06 when first measured (TF-IDF baseline F1
    # 0.49, FPR 0.14); 0.65 after the changes made on the first set; 0.73 after its charters were tuned on; 1.00
    # after the family changes of stop 11 (tag asks naming a person, reviews, tier and purchase gates, personal
    # details in comments, plurals of banned words, promo codes never softened). A development set.
    ("tests/data/drift_unseen_b.jsonl", "tests/charters_unseen_b", {"f1": 0.93, "fpr": 0.05}),
    # A third outsider set, first measured untouched: F1 0.78 (English 0.62, French 0.93), FPR 0.11; the TF-IDF
    # baseline F1 0.47, FPR 0.20. 0.87 after its charters were tuned on, 1.00 after the family changes. Development.
    ("tests/data/drift_unseen_c.jsonl", "tests/charters_unseen_c", {"f1": 0.93, "fpr": 0.05}),
    # A fourth outsider set, committed before it was measured: F1 0.82 (English 0.87, French 0.77), FPR 0.11 when
    # first measured (TF-IDF baseline F1 0.57, FPR 0.17); 0.91 after its charters were tuned on, 1.00 after the
    # family changes. Development. tests/charters_unseen_e is the set measured once and never tuned on.
    ("tests/data/drift_unseen_d.jsonl", "tests/charters_unseen_d", {"f1": 0.93, "fpr": 0.05}),
    # A fifth outsider set, committed before it was measured once after every change above, and never tuned on:
    # F1 0.85 (English 0.89, French 0.81), FPR 0.06; the TF-IDF baseline F1 0.39, FPR 0.11. A floor, not a goal.
    ("tests/data/drift_unseen_e.jsonl", "tests/charters_unseen_e", {"f1": 0.8, "fpr": 0.09}),
    # A sixth outsider set, committed and measured once at the end of stop 11, never tuned on: F1 0.93 (English
    # 0.92, French 0.93), FPR 0.00; the TF-IDF baseline F1 0.62, FPR 0.06. A floor, not a goal.
    ("tests/data/drift_unseen_f.jsonl", "tests/charters_unseen_f", {"f1": 0.88, "fpr": 0.05}),
    # A seventh outsider set (bakery, theatre, vet clinic, podcast network), committed before it was measured once
    # at stop 12 after the charter changes made on E and F: F1 0.86 (English 0.88, French 0.84), FPR 0.09; the
    # TF-IDF baseline F1 0.36, FPR 0.34. 0.97, FPR 0.03 after its charters were tuned on. Development.
    ("tests/data/drift_unseen_g.jsonl", "tests/charters_unseen_g", {"f1": 0.93, "fpr": 0.05}),
    # An eighth outsider set (no phrasing suggested to its writer), committed before it was measured once at stop 12
    # after every change above, never tuned on: F1 0.82 (English 0.83, French 0.81), FPR 0.11; the TF-IDF baseline
    # F1 0.28, FPR 0.23. A floor, not a goal.
    ("tests/data/drift_unseen_h.jsonl", "tests/charters_unseen_h", {"f1": 0.77, "fpr": 0.15}),
])
def test_labelled_posts_against_their_own_charters(data, charters, floor):
    rows = read_labelled(ROOT / data)
    metrics = evaluate_drift(rows, charters=_corpus_charters(ROOT / charters))
    assert metrics["n"] == len(rows) and {r["charter"] for r in rows} <= set(_corpus_charters(ROOT / charters))
    assert metrics["f1"] >= floor["f1"] and metrics["false_positive_rate"] <= floor["fpr"], metrics


@pytest.mark.parametrize("kind, text", [
    ("no_tag_asks", "Tag a colleague who would love this workshop."),
    ("no_tag_asks", "Identifie ta voisine qui cherche un atelier le samedi."),
    ("no_share_asks", "Could you leave us a quick review on Google? It helps a lot."),
    ("no_share_asks", "Laisse-nous une petite note sur l'appli, ça compte."),
    ("no_share_asks", "Please forward this to your team."),
    ("no_gated_participation", "The Thursday masterclass is for Premium members only."),
    ("no_gated_participation", "La visite du dépôt est réservée aux donatrices et donateurs de l'hiver."),
    ("no_gated_participation", "La soirée est réservée à ceux qui ont déjà commandé leur panier."),
    ("no_gated_participation", "Like this post and follow us, and we'll send you the map."),
    ("no_personal_data_asks", "Reply below with your postcode and we'll find the nearest group."),
    ("no_personal_data_asks", "Écris-nous en commentaire ton âge et ton code postal."),
    ("no_urgency", "Only a few seats left: after Friday it will be too late."),
    ("no_superlatives", "We are the friendliest, cheapest club in the whole region."),
])
def test_charter_rule_families_read_the_asks_people_write(kind: str, text: str):
    """Phrasings written for this test (not taken from the labelled sets) of the families the outsider sets B-D
    showed missing: tag asks naming a person, reviews and ratings, tier and past-purchase gates, rewards for
    engaging, personal details in comments, 'too late', '-est … in the whole …'."""
    from copilot.features.charter_checks import family_spans
    assert family_spans(kind, text), f"{kind} missed: {text}"


@pytest.mark.parametrize("kind, text", [
    ("no_tag_asks", "Thanks to everyone who came to tag along on Saturday's walk."),
    ("no_gated_participation", "The workshop is open to every member, as always."),
    ("no_personal_data_asks", "Reply below with the books you would like us to stock."),
    ("no_urgency", "The hall opens at 9; nobody will be turned away."),
    ("no_superlatives", "The oldest tree in the park is 200 years old."),
])
def test_charter_rule_families_leave_ordinary_sentences_alone(kind: str, text: str):
    from copilot.features.charter_checks import family_spans
    assert not family_spans(kind, text), f"{kind} flagged: {text}"


def test_a_promo_code_is_never_softened_into_information():
    charter = parse_charter("# Guide\n\n## Promotion\n\nFactual announcements with a price are fine.\n", "markdown")
    assert any(r.type == "factual_announcements_allowed" for r in charter.rules)
    plain = check_text("The spring course is £120, six evenings, starting 3 April.", charter=charter, lang="en")
    coded = check_text("The spring course is £120 — use code SPRING24 for 10% off.", charter=charter, lang="en")
    assert plain.verdict == "ok" and coded.verdict != "ok"


def test_an_allowed_factual_announcement_is_not_a_promotional_post():
    """A price announcement the charter allows is information: it neither raises the promotional share nor
    counts for the quota; without that allowance it is promotional."""
    allowing = parse_charter("# Guide\n\n## Posts\n\nThe team may publish announcements of price changes,\n"
                             "with the date they take effect.\n", "markdown")
    silent = parse_charter("# Guide\n\n## Posts\n\nBe kind.\n", "markdown")
    text = "From 1 March, the evening class will cost £14 per session."
    assert any(r.type == "factual_announcements_allowed" for r in allowing.rules)  # read across the soft wrap
    assert check_text(text, charter=allowing, lang="en").promotional is False
    assert check_text(text, charter=silent, lang="en").promotional is True


def test_a_replaced_word_said_inside_its_preferred_phrase_is_fine():
    charter = parse_charter('# Guide\n\n## Words\n\n- Say **free and open source**, not just "free".\n', "markdown")
    assert [(t.term, t.instead_of) for t in charter.preferred_terms] == [("free and open source", ["free"])]
    kinds = lambda text: {f.type for f in check_text(text, charter=charter, lang="en").flags}  # noqa: E731
    assert "replaced_term" in kinds("The new plan is free for a year.")
    assert "replaced_term" not in kinds("The open-source CLI stays free.")


POTTERY = parse_charter("""# L'Atelier Terre & Feu

## Ton
Nous vouvoyons les membres. Deux émojis au maximum par message, un seul point d'exclamation.

## Nos mots
Dites « membres », pas « clients ». Le mot « infaillible » est proscrit, tout comme « garanti ».

## Ce que nous ne faisons pas
Pas de compte à rebours ni de fausse urgence. Nous ne demandons jamais aux membres de nous identifier sur leurs
réseaux.
""")


def test_member_first_rewrite_keeps_no_offer_code_deadline_or_ask():
    """A post written for this test (a pottery school): the rewrite keeps what is true and useful, none of the
    offer, its code, its deadline, the call to buy, or the sentence that asks members to tag the brand."""
    text = ("🔥 DERNIERS JOURS !!! -30 % sur tous les tours de potier avec le code TERRE30, seulement jusqu'à jeudi "
            "minuit ! Commandez maintenant. Les cours du soir reprennent le 6 janvier à 19 h. Identifiez-nous sur "
            "Instagram avec vos pièces, les plus belles seront reprises sur notre compte !")
    result = check_text(text, charter=POTTERY, feed=FeedStats(brand_posts=20, promotional_posts=0))
    out = result.rewrite or ""
    assert "6 janvier" in out and "19 h" in out  # the real information stays
    for gone in ("%", "TERRE30", "code", "jusqu'à jeudi", "minuit", "Commandez", "Identifiez", "plus belles", "!"):
        assert gone not in out, (gone, out)
    assert out.endswith("Racontez-nous ce qui marche pour vous.") and " ?" in out  # French spacing kept


def test_rewrite_speaks_one_register_and_the_charters_words():
    tu_post = "Tu cherches un tour pour débuter ? Nos clients adorent celui-ci, écris-nous vite !"
    out = check_text(tu_post, charter=POTTERY).rewrite or ""
    assert "membres" in out and "clients" not in out and "Tu cherches" in out
    from copilot.textrules import VOUS
    assert not VOUS.search(out), out  # a post in tu ends in tu: never tu, then vous (the flag asks for vous)
    assert out.endswith("Raconte-nous ce qui marche pour toi.")


def test_one_finding_is_one_flag_and_limits_cite_their_own_sentence():
    text = "DERNIÈRE CHANCE, compte à rebours lancé 🎉🎉🎉 : la cuisson garantie infaillible !"
    flags = check_text(text, charter=POTTERY).flags
    spans = [(f.start, f.end) for f in flags if f.type in ("urgency", "no_urgency")]
    assert len(spans) == len(set(spans)), [(f.type, f.excerpt) for f in flags]  # not urgency twice on one span
    emoji = next(f for f in flags if "émoji" in f.explanation or "emoji" in f.explanation)
    assert emoji.charter_clause and "émojis" in emoji.charter_clause.text
    assert {"garantie", "infaillible"} <= {f.excerpt for f in flags if f.type == "banned_term"}


def test_a_swap_the_charter_limits_to_some_uses_is_only_worth_a_look():
    """'« équipe » et non « staff » quand on parle des bénévoles' (written for this test): 'staff' may be right
    elsewhere, so it is flagged low, cites the clause, and no rewrite puts « équipe » in its place."""
    charter = parse_charter("# Club\n\n## Nos mots\n\n- Dites « équipe » et non « staff » quand vous parlez des "
                            "bénévoles (le staff, ce sont les salariés).\n- Dites « membres », pas « clients ».\n\n"
                            "## Ton\n\nNous vouvoyons les membres.\n")
    swap = next(t for t in charter.preferred_terms if t.term == "équipe")
    assert swap.condition and swap.condition.startswith("quand vous parlez des bénévoles")
    assert next(t for t in charter.preferred_terms if t.term == "membres").condition is None
    result = check_text("Le staff vous attend samedi, et nos clients DERNIÈRE CHANCE pour s'inscrire !", charter=charter)
    staff = next(f for f in result.flags if f.excerpt == "staff")
    assert staff.severity == "low" and "bénévoles" in staff.explanation and staff.charter_clause
    assert next(f for f in result.flags if f.excerpt == "clients").severity == "medium"
    assert result.rewrite and "staff" in result.rewrite and "membres" in result.rewrite


def test_tutoiement_under_a_vous_charter_is_worth_a_look():
    charter = parse_charter("# Club\n\n## Ton\n\nNous vouvoyons toujours les membres.\n")
    flag = next(f for f in check_text("Tu viens samedi ? On t'attend à l'atelier.", charter=charter).flags
                if f.type == "off_tone")
    assert flag.severity == "medium"
    tu_charter = parse_charter("# Club\n\n## Ton\n\nIci, on se tutoie entre membres et avec l'équipe, dans tous les "
                               "messages du club.\n")
    assert tu_charter.register == "tu"
    group = next(f for f in check_text("Vous venez samedi ? On vous attend.", charter=tu_charter).flags
                 if f.type == "off_tone")
    assert group.severity == "low"  # 'vous' may address the group under a tu charter


SOAP = parse_charter("""# Lather Lab

## Tone
We address members directly. One emoji per post at most, and one exclamation mark at the very most.

## Words
Words like "miracle", "detox" and "flawless" have no place in our posts.

| Say | Not |
| --- | --- |
| members | users, customers |
| the workshop (our forum) | the platform |
""")


def test_rewrite_keeps_short_facts_and_never_leaves_a_claim_half_cut():
    """Posts written for this test (a soap-making club)."""
    event = ("Cold-process class: Saturday 5 December, 10:00 to 13:00, at our Bristol studio. Six places, £40 "
             "including oils, lye and moulds. Reply here to book. Hurry, only today!")
    out = check_text(event, charter=SOAP).rewrite or ""
    assert "Six places, £40 including oils, lye and moulds." in out and "Saturday 5 December" in out
    assert "Hurry" not in out and "only today" not in out
    claim = "Our new bar is a miracle and a true detox for your skin. Cure it for four weeks before use."
    out = check_text(claim, charter=SOAP).rewrite or ""
    assert "Cure it for four weeks before use." in out and "miracle" not in out and "a true" not in out
    words = "A new product page so users and customers of the platform find their bars faster."
    out = check_text(words, charter=SOAP).rewrite or ""
    assert "members of the workshop find" in out and "members and members" not in out and "(our forum)" not in out


def test_several_banned_words_are_several_breaches():
    one = check_text("This bar is flawless on dry skin.", charter=SOAP)
    three = check_text("A flawless miracle detox bar.", charter=SOAP)
    assert one.verdict == "watch" and three.verdict == "drift" and three.score > one.score
