"""The real Streamlit app (AppTest) over a real catalogue in a temporary data folder."""

from __future__ import annotations

import pytest

from matcher.importer import import_file
from matcher.service import MatchService
from matcher.settings import get_settings

from ..conftest import FIXTURES, make_settings

APP = str(FIXTURES.parent.parent / "ui" / "app.py")


@pytest.fixture
def workbench(tmp_path, monkeypatch, e5_encoder):
    """A data folder with the fixture catalogue and one batch run; the app reads it through the settings."""
    data = tmp_path / "data"
    service = MatchService(make_settings(data), encoder=e5_encoder)
    import_file(service, FIXTURES / "mini_results.jsonl", "results")
    import_file(service, FIXTURES / "mini_needs.jsonl", "needs")
    service.batch_match(top_k=3)
    service.close()
    monkeypatch.setenv("TECHMATCH_DATA_DIR", str(data))
    get_settings.cache_clear()
    from ui.state import get_service

    get_service.clear()
    yield data
    get_service.clear()
    get_settings.cache_clear()


def app():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(APP, default_timeout=120)


def button(at, label: str):
    """The (form submit) button whose label is `label`."""
    return next(b for b in at.button if b.label == label)
