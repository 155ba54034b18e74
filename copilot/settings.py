"""Configuration: the only module that reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_ADMIN_KEY = "dev-admin-key"
PLACEHOLDER_SECRETS = {DEV_ADMIN_KEY, "changeme", "change-me", "secret", ""}


class Settings(BaseSettings):
    """Every knob of the product, read from `COPILOT_*` variables."""

    model_config = SettingsConfigDict(env_prefix="COPILOT_", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = Path(".copilot-data")
    database_url: str | None = None
    chroma_url: str | None = None
    embedding_model: str | None = Field(default=None, description="litellm embedding model; local ONNX when unset")
    embedder: Literal["local", "multilingual", "paired", "hash"] = Field(
        default="local", description="local: all-MiniLM-L6-v2 (English); multilingual: USE multilingual v3 (French "
                                     "and English in one space); paired: both, their similarities averaged "
                                     "(docs/retrieval.md); hash: a model-free embedder for quick local runs and tests")
    llm_model: str | None = None
    llm_fallbacks: list[str] = Field(default_factory=list)
    llm_api_key: SecretStr | None = None
    llm_api_base: str | None = None
    llm_timeout: float = 30.0
    llm_attempts: int = Field(default=3, ge=1, le=10)
    llm_max_prompt_tokens: int = 3000
    llm_deadline: float = Field(default=20.0, gt=0, description="seconds one request may spend on the LLM, across "
                                                                 "attempts and fallback models")
    llm_async_deadline: float = Field(default=120.0, gt=0, description="seconds an asynchronous draft (`Prefer: "
                                                                       "respond-async`) may spend on the LLM")
    llm_max_tokens: int = Field(default=900, ge=16, description="cap on the tokens a model may write per call")
    llm_daily_token_budget: int | None = Field(default=None, ge=0, description="tokens per brand and day; once "
                                                                               "spent, the rules engines answer")
    admin_key: SecretStr = SecretStr(DEV_ADMIN_KEY)
    host: str = "127.0.0.1"
    port: int = 8000

    slack_signing_secret: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_brands: dict[str, str] = Field(default_factory=dict, description='{"T123": "brand", "T123/C456": "other"}')
    slack_review_channel: str | None = None
    slack_review_channels: dict[str, str] = Field(
        default_factory=dict, description='{"brand": "C789"}: the review channel of each brand (default: slack_review_channel)')
    slack_reviewers: dict[str, list[str]] = Field(
        default_factory=dict, description='{"brand": ["U123", "S456"]}: Slack users (U…/W…) or user groups (S…) '
                                          'allowed to approve, reject or request changes for a brand; none by default')

    sqlite_busy_timeout_s: float = 30.0

    max_body_bytes: int = 2_000_000
    max_import_bytes: int = 200_000_000
    max_batch_items: int = 1000
    max_text_chars: int = 100_000
    max_zip_members: int = 20_000
    max_zip_uncompressed_bytes: int = 1_000_000_000
    embed_batch_size: int = 64
    embed_max_tokens: int = 256
    embed_threads: int = Field(default=1, ge=0, description="threads of the local embedder; 1 leaves the other cores "
                                                            "to reads while messages are embedded (a spinning "
                                                            "multi-threaded session doubles read latency under live "
                                                            "writes); 0: onnxruntime's default, every core")
    lexical_sync_rebuild_max_docs: int = 20_000
    snapshot_follow_interval_s: float = Field(default=0.5, gt=0, description="how often a replica looks for changes "
                                                                           "written by other replicas")
    snapshot_save_interval_s: float = Field(default=60.0, gt=0, description="how often a followed analytics snapshot "
                                                                           "is saved (it is also saved at shutdown)")
    snapshot_sync_build_max_rows: int = Field(default=20_000, ge=0, description="brands up to this many messages get "
                                                                               "their snapshot built before serving")
    vector_process: bool = Field(default=True, description="run the embedded vector index (no COPILOT_CHROMA_URL) in "
                                                           "a child process: its writes hold the GIL, which would "
                                                           "stop every request of the API process meanwhile")
    settle_heap: bool = Field(default=True, description="freeze the objects that exist once the analytics are warm "
                                                        "out of Python's cyclic garbage collector (copilot.heap): its "
                                                        "full collections stop every request meanwhile")
    change_log_retention_hours: float = Field(default=168.0, gt=0, description="how long the change sequence's log "
                                                                              "is kept (a replica away longer rebuilds)")
    job_lease_s: float = Field(default=60.0, gt=0, description="how long a worker's claim on an import job holds "
                                                               "without being renewed")
    failed_upload_retention_hours: float = Field(default=72.0, ge=0, description="uploads of failed imports are "
                                                                                 "deleted after this many hours")
    max_future_skew_s: int = Field(default=300, ge=0, description="how far in the future a client-given date may be")

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> "Settings":
        if self.env == "prod" and self.admin_key.get_secret_value() in PLACEHOLDER_SECRETS:
            raise ValueError("COPILOT_ADMIN_KEY must be set to a real secret when COPILOT_ENV=prod")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, defaulting to a WAL SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'copilot.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached)."""
    return Settings()
