"""The real Streamlit app (AppTest) over a real catalogue in a temporary data folder."""

from __future__ import annotations

import pytest
from streamlit import config as st_config

from matcher.app import App
from matcher.settings import get_settings

from ..conftest import FIXTURES, make_settings

# As `techmatch ui` runs it: without "magic" (see matcher/cli.py; with it, a script run in AppTest's thread could
# fail to compile with CPython 3.11's "AST constructor recursion depth mismatch" while another thread parses).
st_config.set_option("runner.magicEnabled", False)

APP = str(FIXTURES.parent.parent / "ui" / "app.py")
ORGS = {"broker": "测试技术转移中心", "admin": "测试科技局", "firm": "测试齿轮有限公司", "institution": "测试工业大学"}


@pytest.fixture
def workbench(catalogue_copy, monkeypatch, e5_encoder):
    """A copy of the fixture catalogue with one batch run; the app reads it through the settings."""
    data = catalogue_copy
    service = App(make_settings(data), encoder=e5_encoder)
    service.batches.run_now(top_k=3)
    service.close()
    monkeypatch.setenv("TECHMATCH_DATA_DIR", str(data))
    get_settings.cache_clear()
    from ui.state import get_service

    get_service.clear()
    yield data
    get_service.clear()
    get_settings.cache_clear()


def key_for(data, role: str = "broker") -> str:
    """A fresh API key of a role for the fixture organisation of that role."""
    service = App(make_settings(data))
    try:
        return service.accounts.create_key(role, ORGS[role])[0]
    finally:
        service.close()


def app(data=None, role: str | None = "broker"):
    """The workbench, signed in through its own form with a new key of `role` (None: not signed in)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    if role is None or data is None:
        return at
    key = key_for(data, role)
    at.run()
    at.text_input(key="signin_key").input(key)
    button(at, "登录").click()
    return at


def button(at, label: str):
    """The (form submit) button whose label is `label`."""
    return next(b for b in at.button if b.label == label)
