"""The shared service for the workbench, created once per server process."""

from __future__ import annotations

import streamlit as st

from matcher.service import MatchService
from matcher.settings import get_settings


@st.cache_resource(show_spinner=False)
def get_service() -> MatchService:
    """One MatchService shared by every session. The encoder and indexes load in the background (the review queue,
    the first page, reads only the store; a page that ranks waits for them), then the service follows the change
    log, so writes of the API and other processes reach this process's indexes within a second."""
    service = MatchService(get_settings())
    service.load_in_background()
    return service
