"""The real HTTP app over a real catalogue, with one API key per role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from matcher.access import create_key
from matcher.app import App

from ..conftest import FIXTURES, make_settings

ROLES = {
    "firm": ("firm", "测试齿轮有限公司"),          # owns T-N01
    "auto_firm": ("firm", "测试汽车部件有限公司"),  # owns the confidential T-N04
    "other_firm": ("firm", "另一家企业"),
    "institution": ("institution", "测试工业大学"),  # owns T-R01, T-R02, T-R08, T-R11
    "broker": ("broker", "测试技术转移中心"),
    "admin": ("admin", "测试科技局"),
}


@pytest.fixture(scope="module")
def api(tmp_path_factory, e5_encoder):
    """(client, service, keys) for a module: the app started through its lifespan."""
    service = App(make_settings(tmp_path_factory.mktemp("api")), encoder=e5_encoder)
    service.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    service.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    keys = {name: create_key(service.store, role, org)[0] for name, (role, org) in ROLES.items()}
    with TestClient(create_app(service.settings, service=service)) as client:
        yield client, service, keys
    service.close()


def auth(keys: dict[str, str], who: str | None) -> dict[str, str]:
    """Headers for a caller (None = anonymous)."""
    return {"Authorization": f"Bearer {keys[who]}"} if who else {}
