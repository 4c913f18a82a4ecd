"""The workbench's state model: one rule for every page.

A page works on entities (a candidate pair, a pairing, a listing, a challenge), and the entity it has open is kept
as an *id* in session state — the model. Widgets are views of the model, never the other way round:

- a picker's options are ids (labels only through `format_func`), and it always shows the model's choice
  (`picker`): after a filter change, a decision or an undo, the picker, the table and the cards name the same
  entity, because each is drawn from the model in the same run;
- a widget that edits an entity is keyed by that entity (`entity_key`): a note typed for pair #2 belongs to #2 and
  is never shown or saved for #1; a form is new when its entity (or the entity's stage) changes;
- messages about what just happened (flashes, errors beside a control) belong to a page and are dropped when the
  broker leaves it (`leave`), so a warning never outlives the form it was about;
- errors are shown in the chosen language (`ui.forms.error_text`), never as a raw code.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import streamlit as st

from matcher.app import App
from matcher.settings import get_settings

TRANSIENT = "_transient"  # session keys of the current page's messages, dropped when the page changes


@st.cache_resource(show_spinner=False)
def get_service() -> App:
    """One App shared by every session. The encoder and indexes load in the background (the review queue,
    the first page, reads only the store; a page that ranks waits for them), then the service follows the change
    log, so writes of the API and other processes reach this process's indexes within a second."""
    service = App(get_settings())
    loading = service.load_in_background()
    threading.Thread(target=_warm, args=(service, loading), name="techmatch-warm", daemon=True).start()
    return service


def _warm(service: App, loading: threading.Thread) -> None:
    """Once the catalogue is loaded, run one need check in the background: the first title a firm types then
    answers at once (the cluster classifier is trained and the tagger's dictionary read here, not on that keystroke)."""
    loading.join()
    if service.load_error is not None:
        return
    try:
        service.clarification.check_need({"title": "预热", "description": "预热：加载需求完整度检查所用的分类器与词表。"})
    except Exception:  # only a warm-up: the first real check does the same work and says what failed
        logging.getLogger("techmatch").exception("warming the need check failed")


def entity_key(name: str, *entity: Hashable) -> str:
    """A widget key bound to the entity it edits: another entity gets another widget (and its own value)."""
    return ":".join([name, *map(str, entity)])


def selected(model: str, ids: Sequence[Any], prefer: Any = None) -> Any:
    """The model's choice among `ids`: `prefer` when listed, else the one kept while it is still listed, else the
    first (None when there is nothing to choose); stored back as the model."""
    state = st.session_state
    if prefer is not None and prefer in ids:
        state[model] = prefer
    elif state.get(model) not in ids:
        state[model] = ids[0] if ids else None
    return state[model]


def choose(model: str, value: Any) -> None:
    """(Callback-safe) make `value` the model's choice."""
    st.session_state[model] = value


def _adopt(model: str, key: str) -> None:
    st.session_state[model] = st.session_state[key]


def picker(where: Any, label: str, model: str, ids: Sequence[Any], labels: dict[Any, str], key: str | None = None,
           **kw: Any) -> Any:
    """A select box over entity ids that shows exactly the model's choice; choosing in it changes the model.
    Returns the choice (None when `ids` is empty: nothing is drawn)."""
    chosen = selected(model, ids)
    if chosen is None:
        return None
    key = key or model + "_picker"
    st.session_state[key] = chosen  # the widget shows the model (set before the widget exists in this run)
    where.selectbox(label, list(ids), format_func=lambda i: labels.get(i, str(i)), key=key, on_change=_adopt,
                    args=(model, key), **kw)
    return chosen


def table_selection(key: str, model: str, ids: Sequence[Any]) -> dict[str, Any]:
    """Make a selectable table (st.dataframe with `key`) select the row of the model's choice, or none; returns
    the selection to pass as the table's `selection_default` too (its first run in a session reads only that)."""
    chosen = st.session_state.get(model)
    rows = [ids.index(chosen)] if chosen in ids else []
    selection = {"selection": {"rows": rows, "columns": [], "cells": []}}
    st.session_state[key] = selection
    return selection


def table_key(name: str, model: str, ids: Sequence[Any], *scope: Hashable) -> str:
    """The key of a selectable table showing `ids`: one widget per list, scope (e.g. the language) and choice, so
    a table is drawn anew — opening on the model's row — whenever any of them changes. (A table's selection set
    through session state alone is not always redrawn by the browser.)"""
    nonce = st.session_state.get(f"{name}~nonce", 0)
    return entity_key(name, *scope, zlib.crc32(repr(list(ids)).encode()), st.session_state.get(model), nonce)


def table_picked(key: str, model: str, ids: Sequence[Any], name: str | None = None) -> None:
    """(Table on_select callback) the row a broker clicked becomes the model's choice; a click that clears the
    selection leaves the choice as it is, and the table is drawn again to show it."""
    event = st.session_state.get(key) or {}
    rows = list(event["selection"]["rows"]) if "selection" in event else []
    if rows and rows[0] < len(ids):
        st.session_state[model] = ids[rows[0]]
    elif name is not None:
        st.session_state[f"{name}~nonce"] = st.session_state.get(f"{name}~nonce", 0) + 1


def note(key: str, message: Any) -> None:
    """Keep a message for the current page (a flash, an error beside a control) until it is shown or the page
    changes."""
    st.session_state[key] = message
    st.session_state.setdefault(TRANSIENT, set()).add(key)


def take(key: str) -> Any:
    """The message kept under `key` (once: it is forgotten as it is shown)."""
    st.session_state.get(TRANSIENT, set()).discard(key)
    return st.session_state.pop(key, None)


def peek(key: str) -> Any:
    """The message kept under `key`, left in place (an error that stays beside its control until fixed)."""
    return st.session_state.get(key)


def leave(page: str) -> None:
    """Forget the messages of the page being left (called when the broker opens another page)."""
    state = st.session_state
    if state.get("_page") == page:
        return
    for key in state.pop(TRANSIENT, set()):
        state.pop(key, None)
    state["_page"] = page


def remember(key: str, value: Any) -> None:
    """Set a widget's value for its next run (before the widget exists in that run)."""
    st.session_state[key] = value


def cached(key: Hashable, compute: Callable[[], Any]) -> Any:
    """A per-session memo: `compute()` once per `key` (e.g. a listing's matches at one catalogue state), so a page
    that reruns for another widget does not rank again (and never shows another listing's matches meanwhile)."""
    memo = st.session_state.setdefault("_memo", {})
    if key not in memo:
        if len(memo) > 64:
            memo.clear()
        memo[key] = compute()
    return memo[key]
