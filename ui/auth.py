"""Sign-in for the workbench: a person signs in with an API key or a user name and password, and every page run
checks again that the key or user has not been revoked. The signed-in principal is the audit actor, and pages
follow the API's roles."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from matcher.access import Principal
from matcher.app import App
from matcher.errors import Throttled
from ui.i18n import t

# which pages each role may open (the API's roles: the review queue, pipeline and figures are brokers' work)
PAGE_ROLES = {
    "queue": ("broker", "admin"), "pipeline": ("broker", "admin"), "listings": ("firm", "institution", "broker", "admin"),
    "challenges": ("firm", "institution", "broker", "admin"), "dashboard": ("broker", "admin"), "assign": ("broker", "admin"),
    "alerts": ("firm", "institution", "broker", "admin"),
    "batch": ("admin",),
}
KEY = "principal"


def current(service: App) -> Principal | None:
    """The signed-in principal of this browser session, or None (also when its key or user was revoked)."""
    who = st.session_state.get(KEY)
    if who is None:
        return None
    if not service.accounts.still_valid(who):
        del st.session_state[KEY]
        st.session_state["signin_notice"] = "revoked"
        return None
    return who


def pages_for(who: Principal) -> list[str]:
    """The pages this principal may open, in menu order."""
    return [page for page, roles in PAGE_ROLES.items() if who.role in roles]


def sign_in_form(service: App, lang: str) -> None:
    """The sign-in page: an API key, or a user name and password set by an admin."""
    st.header(t("signin", lang))
    if st.session_state.pop("signin_notice", None) == "revoked":
        st.warning(t("signin_revoked", lang))
    by_key, by_password = st.tabs([t("signin_by_key", lang), t("signin_by_password", lang)])
    with by_key, st.form("signin_key_form"):
        key = st.text_input(t("api_key", lang), type="password", key="signin_key", max_chars=200,
                            help=t("api_key_help", lang))
        if st.form_submit_button(t("signin", lang), type="primary"):
            _enter(lambda: service.accounts.sign_in_with_key(key, _client()), lang, "signin_bad_key")
    with by_password, st.form("signin_password_form"):
        name = st.text_input(t("user_name", lang), key="signin_name", max_chars=50)
        password = st.text_input(t("password", lang), type="password", key="signin_password", max_chars=200)
        if st.form_submit_button(t("signin", lang), type="primary"):
            _enter(lambda: service.accounts.sign_in(name, password, _client()), lang, "signin_bad_password")


def _client() -> str | None:
    """The address the browser connects from (None where there is none, as under AppTest): sign-in attempts are
    throttled per client as well as per account."""
    try:
        return st.context.ip_address
    except Exception:  # no request context
        return None


def _enter(attempt: Callable[[], Principal | None], lang: str, error: str) -> None:
    try:
        who = attempt()
    except Throttled as exc:
        st.error(t("signin_throttled", lang, s=int(exc.retry_after) + 1))
        return
    if who is None:
        st.error(t(error, lang))
        return
    st.session_state[KEY] = who
    st.rerun()


def sign_out() -> None:
    """Forget the principal of this browser session."""
    st.session_state.pop(KEY, None)
