import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from copilot.cli import app
from copilot.errors import CharterInvalid
from copilot.ingest.charter import parse_charter
from tests.conftest import ROOT, SHARED


def charter_files() -> list[Path]:
    return sorted((SHARED / "charters_en_fr" / "docs").glob("*.md"))


def test_all_twenty_published_charters_load_and_keep_every_passage():
    files = charter_files()
    assert len(files) == 20
    for path in files:
        charter = parse_charter(path.read_text(encoding="utf-8"), filename=path.name)
        ids = {p.id for p in charter.passages}
        assert charter.passages, path.name
        assert len(ids) == len(charter.passages), f"duplicate passage ids in {path.name}"
        cited = [i.passage_id for i in charter.values + charter.tone + charter.vision] + \
                [r.passage_id for r in charter.rituals] + [t.passage_id for t in charter.banned_terms]
        assert set(cited) <= ids | {"front-matter"}
        # Every passage is either used by a structured item or reported as not understood.
        unparsed = {p for u in charter.unparsed for p in u.passage_ids}
        used = set(cited) | {r.passage_id for r in charter.promotion_policy.rules} | \
            {t.passage_id for t in charter.preferred_terms}
        assert ids <= used | unparsed, f"{path.name} silently dropped {sorted(ids - used - unparsed)[:3]}"


def test_published_charters_languages_and_promotion_bans():
    langs = {p.stem: parse_charter(p.read_text(encoding="utf-8")).languages[0] for p in charter_files()}
    assert langs["contributor-covenant-2.1-fr"] == "fr" and langs["contributor-covenant-2.1-en"] == "en"
    assert langs["betagouv-rituel-clubs"] == "fr" and langs["mailchimp-tldr"] == "en"
    etalab = parse_charter((SHARED / "charters_en_fr/docs/etalab-democracyos-charte-fr.md").read_text(encoding="utf-8"))
    assert etalab.promotion_policy.max_promotional_share == 0.0
    assert any("publicitaire" in r.text for r in etalab.promotion_policy.rules)
    clubs = parse_charter((SHARED / "charters_en_fr/docs/betagouv-rituel-clubs.md").read_text(encoding="utf-8"))
    assert clubs.rituals


def test_sample_charter_is_fully_typed():
    c = parse_charter((ROOT / "knowledge/charter.md").read_text(encoding="utf-8"), filename="charter.md")
    assert c.brand == "Roue Libre" and c.register == "tu" and c.languages == ["fr", "en"]
    assert [v.text for v in c.values] == ["Entraide", "Transparence", "Réparabilité", "Accueil"]
    assert {"Chaleureux", "direct", "complice"} <= {t.text for t in c.tone}
    assert ("membre", ["client"]) in [(t.term, t.instead_of) for t in c.preferred_terms]
    assert {"offre exclusive", "dernière chance", "promo flash"} <= {t.term for t in c.banned_terms}
    assert [r.name for r in c.rituals][:2] == ["Le carnet du lundi", "Jeudi réparation"]
    assert c.rituals[0].cadence == "chaque lundi"
    assert c.promotion_policy.max_promotional_share == 0.1
    assert c.emoji_limit == 3 and c.exclamation_limit == 2
    passage = {p.id: p.text for p in c.passages}[c.promotion_policy.passage_id]
    assert "1 publication sur 10" in passage


def test_english_headings_any_order_and_missing_sections():
    text = """# Acme voice
## Rituals
- **Friday Fix-it**: every Friday we answer repair questions together.
## Tone
Friendly, plain, curious
## Promotion policy
At most 20% of our posts may mention an offer.
"""
    c = parse_charter(text)
    assert c.languages == ["en"] and c.register is None
    assert c.rituals[0].name == "Friday Fix-it" and c.rituals[0].cadence.lower() == "every friday"
    assert [t.text for t in c.tone] == ["Friendly", "plain", "curious"]
    assert c.promotion_policy.max_promotional_share == 0.2
    assert c.values == [] and c.vision == []


def test_structured_yaml_and_json_charters():
    yaml_text = """brand: Acme
language: en
values: [Care, Candour]
lexicon:
  preferred: [{term: member, instead_of: [customer]}]
  banned: [limited offer]
rituals: [{name: Monday log, cadence: weekly, format: thread}]
promotion_policy: {max_promotional_share: 0.1}
colour: blue
"""
    c = parse_charter(yaml_text)
    assert c.source_format == "yaml" and [v.text for v in c.values] == ["Care", "Candour"]
    assert c.preferred_terms[0].instead_of == ["customer"] and c.banned_terms[0].term == "limited offer"
    assert c.rituals[0].cadence == "weekly" and c.promotion_policy.max_promotional_share == 0.1
    assert c.unparsed and "colour" in c.unparsed[0].reason
    j = parse_charter(json.dumps({"values": ["Care"], "register": "vous", "language": "fr"}))
    assert j.source_format == "json" and j.register == "vous"


@pytest.mark.parametrize("text,field", [
    ("", "content"),
    ("---\nregister: [oops\n---\n# Ton\nSalut", "front_matter"),
    ("---\nregister: il\n---\n# Ton\nSalut", "register"),
    ('{"values": [1]}', "values[0]"),
    ('{"values": ', "content"),
    ("---\nmax_promotional_share: 3\n---\n# Ton\nok", "max_promotional_share"),
])
def test_bad_charters_name_the_problem(text, field):
    with pytest.raises(CharterInvalid) as err:
        parse_charter(text)
    assert err.value.field == field


def test_cli_charter_parse_json_reports_unparsed(tmp_path):
    path = tmp_path / "c.md"
    path.write_text("# Nos valeurs\n- **Entraide** : on s'aide.\n\n# Horaires\nOuvert de 9h à 18h.\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["charter", "parse", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["values"][0]["text"] == "Entraide"
    assert data["unparsed"][0]["section"] == "Horaires"
    bad = tmp_path / "bad.json"
    bad.write_text("{nope", encoding="utf-8")
    result = CliRunner().invoke(app, ["charter", "parse", str(bad), "--json"])
    assert result.exit_code == 2 and "not valid JSON" in result.output
