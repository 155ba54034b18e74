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
