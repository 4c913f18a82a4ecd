"""Property-based run of schemathesis against the app's own OpenAPI document: no server errors, no responses
that break the schema. Slow (about a minute): marked `slow`."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from api.app import create_app  # noqa: E402
from matcher.access import create_key  # noqa: E402
from matcher.app import App  # noqa: E402

from ..conftest import FIXTURES, make_settings  # noqa: E402


def _app():
    import tempfile
    from pathlib import Path

    from embeddings import get_encoder

    service = App(make_settings(Path(tempfile.mkdtemp(prefix="techmatch-st-"))), encoder=get_encoder("e5"))
    service.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    service.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    service.batches.run_now(top_k=2)
    service.load()
    app = create_app(service.settings, service=service)
    app.state.service = service  # available even if the ASGI transport skips the lifespan
    key = create_key(service.store, "admin", "模糊测试管理员")[0]
    return app, key


APP, KEY = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"})
