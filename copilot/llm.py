"""litellm adapter (the only module that imports litellm). For now: provider embeddings.

The chat/completion layer (prompts, structured output, retries, degraded mode) arrives with the ritual
drafts work; embeddings already go through here so any litellm embedding model can back the index.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

import copilot.settings  # noqa: F401  (sets LITELLM_LOCAL_MODEL_COST_MAP / DISABLE_AIOHTTP_TRANSPORT first)


class LiteLLMEmbedder:
    """Embeddings from any litellm embedding model (`COPILOT_EMBEDDING_MODEL`)."""

    def __init__(self, model: str, *, batch_size: int = 64, timeout: float = 30.0):
        self.name = f"litellm:{model}"
        self.model = model
        self.batch_size = batch_size
        self.timeout = timeout
        self.dim = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed in batches and L2-normalise."""
        import litellm

        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            resp = litellm.embedding(model=self.model, input=list(texts[start:start + self.batch_size]),
                                     timeout=self.timeout, num_retries=2)
            rows.extend(d["embedding"] for d in resp.data)
        out = np.asarray(rows, dtype=np.float32)
        self.dim = out.shape[1] if out.ndim == 2 else self.dim
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms
