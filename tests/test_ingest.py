import json
import zipfile
from pathlib import Path

import pytest

from copilot.errors import ImportFormatInvalid, PayloadTooLarge
from copilot.ingest import detect_format, parse_file
from copilot.runtime import Copilot
from copilot.types import MemberRecord, MessageRecord, RecordError
from tests.conftest import ROOT, shared


def _lines(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def msg(i: int, **kw) -> dict:
    return {"type": "message", "source_id": f"m{i}", "author": "u1", "created_at": "2026-10-01T10:00:00Z",
            "text": f"message numéro {i} sur les freins", **kw}


def test_malformed_lines_are_reported_and_neighbours_kept(copilot: Copilot, tmp_path: Path):
    copilot.store.create_brand("acme", "Acme", "fr")
    path = _lines(tmp_path / "h.jsonl", [msg(1), "{not json", msg(2, created_at="yesterday"), msg(3), [1, 2],
                                         {"type": "member", "source_id": "u1", "name": "Ana", "role": "staff"}])
    report = copilot.ingest_file("acme", path)
    assert report.messages.inserted == 2 and report.members.inserted == 1
    locations = [e.location for e in report.errors]
    assert locations == ["h.jsonl:2:2", "h.jsonl:3", "h.jsonl:5"]
    assert "created_at" in report.errors[1].message
    assert copilot.store.count_messages("acme") == 2


def test_invalid_utf8_line_is_located(copilot: Copilot, tmp_path: Path):
    copilot.store.create_brand("acme", "Acme", "fr")
    path = tmp_path / "h.jsonl"
    path.write_bytes(json.dumps(msg(1)).encode() + b"\n" + b'{"text": "caf\xe9"}\n')
    report = copilot.ingest_file("acme", path)
    assert report.messages.inserted == 1 and report.errors[0].message == "invalid UTF-8"


def test_reimport_changes_nothing_and_skips_embedding(copilot: Copilot, tmp_path: Path):
    copilot.store.create_brand("acme", "Acme", "fr")
    path = _lines(tmp_path / "h.jsonl", [msg(i) for i in range(50)])
    first = copilot.ingest_file("acme", path)
    revision = copilot.store.get_brand("acme").index_revision
    again = copilot.ingest_file("acme", path)
    assert first.embedded == 50 and again.embedded == 0
    assert again.messages.model_dump() == {"inserted": 0, "updated": 0, "unchanged": 50, "deleted": 0}
    assert copilot.store.get_brand("acme").index_revision == revision
    assert copilot.index.count("acme") == 50
    # An edit re-embeds only the edited message; a reaction change updates without re-embedding.
    rows = [msg(i) for i in range(50)]
    rows[3]["text"] = "texte corrigé"
    rows[4]["reactions"] = {"👍": 3}
    third = copilot.ingest_file("acme", _lines(tmp_path / "h2.jsonl", rows))
    assert third.embedded == 1 and third.messages.updated == 2


def test_role_and_consent_set_by_editors_survive_reimport(copilot: Copilot, tmp_path: Path):
    copilot.store.create_brand("acme", "Acme", "fr")
    path = _lines(tmp_path / "m.jsonl", [{"type": "member", "source_id": "u1", "name": "Ana"}])
    copilot.ingest_file("acme", path)
    member = copilot.store.list_members("acme")[0][0]
    copilot.store.update_member("acme", member.id, {"consent_spotlight": "opt_out", "role": "staff"})
    copilot.ingest_file("acme", path)
    member = copilot.store.get_member("acme", member.id)
    assert (member.role, member.consent_spotlight) == ("staff", "opt_out")


def test_stack_exchange_jsonl_from_shared_data(copilot: Copilot, tmp_path: Path):
    copilot.store.create_brand("se", "SE", "en")
    src = shared("community_se_history_meta_en", "messages_dev.jsonl")
    sample = tmp_path / "se.jsonl"
    sample.write_text("".join(src.read_text(encoding="utf-8").splitlines(keepends=True)[:300]), encoding="utf-8")
    report = copilot.ingest_file("se", sample)
    assert report.error_count == 0 and report.messages.inserted == 300
    users = copilot.ingest_file("se", shared("community_se_history_meta_en", "users.jsonl"))
    assert users.error_count == 0
    rows = copilot.store.get_messages("se", ["stackexchange:p3"])
    p3 = rows["stackexchange:p3"]
    assert p3.kind == "question" and p3.thread == "p3" and p3.title.startswith("Warning about answers")
    bots, _ = copilot.store.list_members("se", role="bot")
    assert [b.source_id for b in bots] == ["u-1"]


def test_stack_exchange_xml_dump(copilot: Copilot, tmp_path: Path):
    copilot.store.create_brand("se", "SE", "en")
    d = tmp_path / "dump"
    d.mkdir()
    (d / "Users.xml").write_text('<users><row Id="1" DisplayName="Ada" CreationDate="2020-01-01T00:00:00.000"/>'
                                 '<row Id="-1" DisplayName="Community" CreationDate="2020-01-01T00:00:00.000"/></users>')
    (d / "Posts.xml").write_text(
        '<posts><row Id="10" PostTypeId="1" AcceptedAnswerId="11" CreationDate="2020-01-02T00:00:00.000" Score="3" '
        'Body="&lt;p&gt;How do I cite a &lt;b&gt;source&lt;/b&gt;?&lt;/p&gt;" OwnerUserId="1" Title="Citing"/>'
        '<row Id="11" PostTypeId="2" ParentId="10" CreationDate="2020-01-03T00:00:00.000" Score="5" '
        'Body="&lt;p&gt;Use footnotes.&lt;/p&gt;" OwnerUserId="2"/>'
        '<row Id="12" PostTypeId="2" ParentId="10" CreationDate="bad-date" Body="x"/></posts>')
    (d / "Comments.xml").write_text('<comments><row Id="7" PostId="11" Score="0" Text="Thanks &amp; cheers" '
                                    'CreationDate="2020-01-04T00:00:00.000" UserId="1"/></comments>')
    items = list(parse_file(d))
    msgs = {i.source_id: i for i in items if isinstance(i, MessageRecord)}
    assert msgs["p10"].text == "How do I cite a source?" and msgs["p10"].reactions == {"score": 3}
    assert msgs["p11"].is_solution and msgs["p11"].reply_to == "p10"
    assert msgs["c7"].thread == "p10" and msgs["c7"].text == "Thanks & cheers"
    errors = [i for i in items if isinstance(i, RecordError)]
    assert len(errors) == 1 and errors[0].location == "Posts.xml:row 2"
    report = copilot.ingest_file("se", d)
    assert report.messages.inserted == 3


def slack_zip(path: Path, extra: dict[str, bytes] | None = None) -> Path:
    users = [{"id": "U1", "name": "ana", "profile": {"display_name": "Ana"}},
             {"id": "U2", "name": "bob", "is_admin": True, "real_name": "Bob"},
             {"id": "B1", "name": "helper", "is_bot": True}]
    day = [{"type": "message", "user": "U1", "text": "Ma chaîne saute", "ts": "1760000000.000100",
            "thread_ts": "1760000000.000100", "reactions": [{"name": "eyes", "count": 2, "users": ["U2", "U3"]}]},
           {"type": "message", "user": "U2", "text": "Vérifie la patte", "ts": "1760000100.000200",
            "thread_ts": "1760000000.000100"},
           {"type": "message", "subtype": "channel_join", "user": "U3", "text": "joined", "ts": "1760000200.0"},
           {"type": "message", "subtype": "bot_message", "bot_id": "B9", "username": "rss", "text": "Nouveau tuto",
            "ts": "1760000300.0"},
           {"type": "message", "user": "U1", "text": "sans ts"}]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("users.json", json.dumps(users))
        zf.writestr("channels.json", json.dumps([{"id": "C1", "name": "atelier"}]))
        zf.writestr("atelier/2025-10-09.json", json.dumps(day))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def test_slack_export(copilot: Copilot, tmp_path: Path):
    path = slack_zip(tmp_path / "export.zip")
    assert detect_format(path) == "slack"
    items = list(parse_file(path))
    members = {i.source_id: i for i in items if isinstance(i, MemberRecord)}
    msgs = [i for i in items if isinstance(i, MessageRecord)]
    assert members["U2"].role == "staff" and members["B1"].role == "bot" and members["B9"].role == "bot"
    assert len(msgs) == 3
    root, reply = msgs[0], msgs[1]
    assert root.reactions == {"eyes": 2} and root.kind == "post"
    assert reply.reply_to == root.source_id and reply.thread == root.source_id and reply.kind == "comment"
    assert [e.location for e in items if isinstance(e, RecordError)] == ["atelier/2025-10-09.json:[4]"]
    copilot.store.create_brand("acme", "Acme", "fr")
    assert copilot.ingest_file("acme", path).messages.inserted == 3


def test_zip_slip_and_zip_bomb_are_refused(tmp_path: Path):
    slip = slack_zip(tmp_path / "slip.zip", {"../../etc/evil.json": b"[]"})
    with pytest.raises(ImportFormatInvalid, match="unsafe path"):
        list(parse_file(slip, "slack"))
    bomb = slack_zip(tmp_path / "bomb.zip", {"atelier/2025-10-10.json": b"[" + b" " * 50_000_000 + b"]"})
    with pytest.raises(PayloadTooLarge, match="zip bomb"):
        list(parse_file(bomb, "slack"))
    with pytest.raises(PayloadTooLarge, match="expands to"):
        list(parse_file(slack_zip(tmp_path / "big.zip"), "slack", max_zip_bytes=100))
    not_zip = tmp_path / "x.zip"
    not_zip.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ImportFormatInvalid):
        list(parse_file(not_zip, "slack"))


def test_discord_chat_exporter_json(copilot: Copilot, tmp_path: Path):
    doc = {"guild": {"id": "1", "name": "Roue"}, "channel": {"id": "2", "name": "atelier"}, "messages": [
        {"id": "100", "type": "Default", "timestamp": "2025-10-01T10:00:00+02:00", "content": "Qui a un démonte-pneu ?",
         "author": {"id": "7", "name": "ana", "nickname": "Ana", "isBot": False},
         "reactions": [{"emoji": {"name": "👍"}, "count": 3}]},
        {"id": "101", "type": "Reply", "timestamp": "2025-10-01T10:05:00+02:00", "content": "Moi !",
         "author": {"id": "8", "name": "bob", "isBot": False}, "reference": {"messageId": "100"}},
        {"id": "102", "type": "Default", "timestamp": "2025-10-01T10:06:00+02:00", "content": "ping",
         "author": {"id": "9", "name": "MEE6", "isBot": True}},
        {"id": "103", "type": "Default", "content": "no timestamp", "author": {"id": "7"}},
        {"id": "104", "type": "ChannelPinnedMessage", "timestamp": "2025-10-01T10:07:00Z", "content": "", "author": {"id": "7"}}]}
    path = tmp_path / "atelier.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert detect_format(path) == "discord"
    items = list(parse_file(path))
    msgs = [i for i in items if isinstance(i, MessageRecord)]
    assert [m.source_id for m in msgs] == ["100", "101", "102"]
    assert msgs[0].reactions == {"👍": 3} and msgs[0].created_at.hour == 8
    # Typed like a forum: the opening asks something, and another member's reply answers it.
    assert msgs[0].kind == "question" and msgs[1].reply_to == "100" and msgs[1].kind == "answer"
    assert msgs[2].kind == "post"
    assert [m.role for m in items if isinstance(m, MemberRecord)] == ["member", "member", "bot"]
    assert [e.location for e in items if isinstance(e, RecordError)] == ["atelier.json:messages[3]"]
    copilot.store.create_brand("acme", "Acme", "fr")
    assert copilot.ingest_file("acme", path).messages.inserted == 3
    broken = tmp_path / "broken.json"
    broken.write_text('{"messages": 3}', encoding="utf-8")
    with pytest.raises(ImportFormatInvalid, match="messages"):
        list(parse_file(broken, "discord"))


def test_markdown_documents_become_doc_sections(copilot: Copilot):
    copilot.store.create_brand("acme", "Acme", "fr")
    report = copilot.ingest_file("acme", ROOT / "knowledge" / "charter.md", "markdown")
    again = copilot.ingest_file("acme", ROOT / "knowledge" / "charter.md", "markdown")
    assert report.messages.inserted >= 6 and again.messages.unchanged == report.messages.inserted
