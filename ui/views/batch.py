"""Batch matching from the workbench, with a progress bar and the figures of the last run."""

from __future__ import annotations

import streamlit as st

from matcher.access import Principal
from matcher.app import App
from matcher.errors import TechmatchError
from matcher.retrieval.ranking import METHODS
from matcher.review.batches import BatchRunning
from ui.forms import error_text
from ui.i18n import STRINGS, t
from ui.render import actor_label, local_time


def _last(service: App, lang: str) -> None:
    runs, _ = service.batches.list_runs(limit=5)
    if not runs:
        return
    st.subheader(t("last_run", lang))
    last = runs[0]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("status", lang), t("run_" + last["status"], lang))
    c2.metric(t("needs", lang), f"{last['needs_done']}/{last['needs_total']}")
    c3.metric(t("queue", lang), last["candidates"])
    c4.metric(t("method", lang), method_name(last["method"], lang))
    st.dataframe([{"#": r["id"], t("status", lang): t("run_" + r["status"], lang),
                   t("method", lang): method_name(r["method"], lang), t("top_k", lang): r["top_k"],
                   t("needs", lang): r["needs_total"], t("queue", lang): r["candidates"],
                   t("started", lang): local_time(r["started_at"]), t("finished", lang): local_time(r["finished_at"]),
                   t("by", lang): actor_label(r["actor"], lang)} for r in runs], hide_index=True, width="stretch")


def method_name(method: str, lang: str) -> str:
    """A ranking method as a broker reads it (its i18n name; the method's own name where it has none)."""
    key = "method_" + method
    return t(key, lang) if key in STRINGS else method


def render(service: App, lang: str, who: Principal) -> None:
    """The page (for a signed-in principal, who is the audit actor)."""
    actor = who.actor
    st.header(t("batch", lang))
    c1, c2 = st.columns(2)
    top_k = c1.slider(t("top_k", lang), 1, 30, 10, key="b_k")
    method = c2.selectbox(t("method", lang), list(METHODS), key="b_method",
                          index=list(METHODS).index(service.matching.batch_method()),
                          format_func=lambda m: method_name(m, lang), placeholder=t("choose", lang))
    if st.button(t("run_batch", lang), type="primary", key="b_go", disabled=service.batches.running()):
        bar = st.progress(0.0)
        try:
            run = service.batches.run_now(top_k=top_k, method=method, actor=actor,
                                  progress=lambda done, total: bar.progress(done / max(total, 1), f"{done}/{total}"))
        except BatchRunning:
            st.warning(t("batch_running", lang))
        except TechmatchError as exc:  # e.g. the learned method before any model was trained
            st.error(error_text(exc, lang, service.vocab))
        else:
            st.success(t("batch_done", lang, needs=run["needs_total"], cands=run["candidates"]))
    _last(service, lang)
