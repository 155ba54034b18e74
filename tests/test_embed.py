from pathlib import Path

import numpy as np
import pytest

from copilot.embed import EmbedderFilesMissing, HashEmbedder, LocalMiniLM, _verified, local_model_files


def test_local_model_files_are_installed_and_verified():
    model, tokenizer = local_model_files()
    assert model.name == "model.onnx" and tokenizer.stat().st_size == 466_247


def test_a_tampered_file_is_refused(tmp_path: Path):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the model")
    with pytest.raises(EmbedderFilesMissing, match="sha256"):
        _verified(fake, "0" * 64)
    with pytest.raises(EmbedderFilesMissing, match="missing"):
        _verified(tmp_path / "absent", "0" * 64)


def test_local_embedder_captures_meaning_in_order():
    emb = LocalMiniLM(batch_size=2)
    texts = ["How do I fix a flat tyre on my bike?", "a recipe for chocolate cake",
             "Repairing a punctured bicycle tire", ""]
    v = emb.embed(texts)
    assert v.shape == (4, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert v[0] @ v[2] > v[0] @ v[1] + 0.2
    again = emb.embed(list(reversed(texts)))[::-1]
    assert np.allclose(v, again, atol=1e-4)


def test_hash_embedder_is_deterministic():
    a, b = HashEmbedder().embed(["chaîne qui saute"]), HashEmbedder().embed(["chaîne qui saute"])
    assert np.array_equal(a, b) and abs(np.linalg.norm(a) - 1) < 1e-6


def _brand_of(settings, embedder, texts: dict[str, str]):  # type: ignore[no-untyped-def]
    """A runtime with the real embedded Chroma and `embedder`, holding brand 'acme' with `texts` ingested."""
    from copilot.runtime import Copilot
    from copilot.types import MessageRecord

    runtime = Copilot(settings, embedder=embedder)
    runtime.store.create_brand("acme", "Acme", "en")
    runtime.ingestor.ingest("acme", [MessageRecord(source_id=k, created_at="2026-11-01T10:00:00Z", text=v)
                                     for k, v in texts.items()])
    return runtime


@pytest.mark.slow
def test_the_real_embedder_end_to_end_through_chroma_and_dense_search(settings):
    """Ingest, embed with the real local model, store in the real embedded Chroma, search densely: a paraphrase
    that shares no word with its message finds it first (the other tests use a bag-of-words embedder)."""
    runtime = _brand_of(settings, LocalMiniLM(batch_size=8), {
        "m1": "My sourdough loaf came out flat and dense again", "m2": "Which trail shoes for muddy hills?",
        "m3": "The app logs me out every time I switch networks", "m4": "Best way to store winter tyres"})
    try:
        hits = runtime.retriever.search("acme", "bread did not rise in the oven", limit=2, mode="dense")
        assert hits[0].id == "m1"
        hits = runtime.retriever.search("acme", "session expires when changing wifi", limit=2, mode="dense")
        assert hits[0].id == "m3"
    finally:
        runtime.close()


def test_the_multilingual_embedder_puts_a_question_near_its_answer_in_the_other_language():
    from copilot.embed import LocalMultilingualUSE

    emb = LocalMultilingualUSE()
    v = emb.embed(["Comment supprimer mon compte ?", "How do I delete my account?", "a recipe for chocolate cake",
                   "Quelle recette pour un gâteau au chocolat ?", ""])
    assert v.shape == (5, 512) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v[:4], axis=1), 1, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3 and v[3] @ v[2] > v[3] @ v[1] + 0.3  # each language finds the other
    assert emb.embed([]).shape == (0, 512)


@pytest.mark.slow
def test_the_multilingual_setting_answers_a_french_question_from_english_posts(settings):
    """`COPILOT_EMBEDDER=multilingual`: vectors go to the embedder's own collection, and a French question with no
    word in common with the brand's English posts finds the right one by dense similarity, in hybrid mode too."""
    from copilot.runtime import make_embedder

    runtime = _brand_of(settings, make_embedder(settings.model_copy(update={"embedder": "multilingual"})), {
        "m1": "How can I delete my account and all my data?", "m2": "Which trail shoes for muddy hills?",
        "m3": "The app logs me out every time I switch networks", "m4": "Thanks, that worked!"})
    try:
        assert runtime.retriever.fusion == "score"  # its similarity scale was measured (DENSE_SPREAD)
        search = runtime.retriever.search
        for mode in ("dense", "hybrid"):
            assert search("acme", "supprimer mon compte", limit=2, mode=mode)[0].id == "m1"  # type: ignore[arg-type]
            assert search("acme", "chaussures pour la boue", limit=2, mode=mode)[0].id == "m2"  # type: ignore[arg-type]
    finally:
        runtime.close()


def test_paired_vectors_have_the_mean_of_the_two_models_cosines():
    from copilot.embed import PairedEmbedder

    first, second = HashEmbedder(), LocalMiniLM(batch_size=2)
    paired = PairedEmbedder(first, second)
    texts = ["How do I delete my account?", "Remove my profile and data", "a recipe for chocolate cake"]
    v = paired.embed(texts)
    assert v.shape == (3, 256 + 384) and paired.name == "hash-bow-256+all-MiniLM-L6-v2-int8"
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    a, b = first.embed(texts), second.embed(texts)
    assert np.allclose(v @ v.T, (a @ a.T + b @ b.T) / 2, atol=1e-4)


def test_the_embedder_setting_picks_the_model_and_wins_over_a_provider_model(settings):
    from copilot.runtime import make_embedder

    names = {choice: make_embedder(settings.model_copy(update={"embedder": choice, "embedding_model": "mistral/x"})).name
             for choice in ("multilingual", "paired", "hash")}
    assert names == {"multilingual": "use-multilingual-v3", "paired": "all-MiniLM-L6-v2-int8+use-multilingual-v3",
                     "hash": "hash-bow-256"}


def test_the_local_embedder_leaves_the_cores_to_the_rest_of_the_search_between_queries():
    # onnxruntime's worker threads spin after a run by default; on two cores that halved hybrid search speed at 100k
    # messages (bench/search.py). The setting is what keeps them asleep.
    embedder = LocalMiniLM()
    options = embedder.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert embedder.embed(["a question"]).shape == (1, 384)
