"""The shared service for the workbench, created once per server process."""

from __future__ import annotations

import streamlit as st

from matcher.service import MatchService
from matcher.settings import get_settings


@st.cache_resource(show_spinner="正在加载模型与索引…")
def get_service() -> MatchService:
    """One MatchService (encoder and indexes loaded) shared by every session."""
    service = MatchService(get_settings())
    service.load()
    service.follow()  # writes of the API and other processes reach this process's indexes within a second
    return service
