"""Listings: search needs and results, open one to see its best matches, post new ones, import files."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from matcher.access import Principal, need_view, redact_match
from matcher.errors import TechmatchError
from matcher.ingest.importer import detect_format, import_bytes
from matcher.service import MatchService
from ui.i18n import t
from ui.render import badge, card, highlight


def _errors(exc: Exception, lang: str) -> None:
    if isinstance(exc, ValidationError):
        lines = [f"- **{'.'.join(map(str, e['loc'])) or '—'}**: {str(e['msg']).removeprefix('Value error, ')}"
                 for e in exc.errors()]
        st.error(t("invalid", lang) + "\n" + "\n".join(lines))
    else:
        st.error(t("invalid", lang) + f" {exc}")


def _search(service: MatchService, lang: str, who: Principal) -> None:
    v = service.vocab
    c1, c2, c3 = st.columns([5, 2, 3])
    text = c1.text_input(t("search_text", lang), key="s_text", max_chars=500)
    side = c2.radio(t("side", lang), ["results", "needs"], format_func=lambda s: t(s, lang), key="s_side",
                    horizontal=True)
    industry = c3.multiselect(t("cluster", lang), placeholder=t("all", lang), options=v.industries.codes, format_func=v.industries.name, key="s_ind")
    filters = {"industry": industry}
    if text.strip():
        hits = service.search(text, side=side, top_k=20, filters=filters, viewer=who)
        rows = [{**m.item, "_score": m.score} for m in hits]
    else:
        rows, _ = service.list_listings(side, filters, limit=50, viewer=who)
    if side == "needs":  # a confidential need shows its text only to its owner and brokers
        rows = [{**need_view(r, who), **({"_score": r["_score"]} if "_score" in r else {})} for r in rows]
    if not rows:
        st.info(t("empty", lang))
        return
    table = pd.DataFrame([{"#": r["id"], t("title", lang): r["title"], t("cluster", lang): v.industries.name(
        r["industry"]), t("district", lang): r.get("district") or "", **(
        {t("score", lang): round(r["_score"], 3)} if "_score" in r else {})} for r in rows])
    st.dataframe(table, hide_index=True, width="stretch", height=260)
    labels = {r["id"]: f"#{r['id']} {r['title']}" for r in rows}
    chosen = st.selectbox(t("open_listing", lang), list(labels), format_func=labels.get, key="s_open")
    row = service.get_listing(side, chosen)
    if side == "needs":
        row = need_view(row, who)
    body = row.get("description") if side == "needs" else row.get("abstract")
    badges = [badge(v.industries.name(row["industry"])), badge(row.get("district") or "—")]
    if row.get("confidentiality") == "brokers":
        badges.insert(0, badge(t("confidential", lang), "secret"))
    st.markdown(card(row["title"], badges, f"#{row['id']}", highlight(body or "", [])), unsafe_allow_html=True)
    st.subheader(t("matches_for", lang, title=row["title"]))
    query_need = service.get_listing("needs", chosen) if side == "needs" else None
    for found in service.match_listing(side, chosen, top_k=5, viewer=who):
        m = redact_match(found.to_dict(), who, query_need)
        ex = m["explanation"]
        st.markdown(f"**{m['rank']}. {m['item']['title']}** · {m['score']:.3f}")
        st.markdown(f'<div class="muted">{ex.get("summary", "")}</div>', unsafe_allow_html=True)


def _own_org(who: Principal, lang: str, key: str) -> str | None:
    """The organisation a listing is posted for: brokers and admins name it, firms and institutions post their own."""
    if who.privileged:
        return st.text_input(t("org", lang), key=key, max_chars=200) or None
    st.caption(f"{t('org', lang)}：{who.org_name}")
    return who.org_name


def _post_need(service: MatchService, lang: str, who: Principal) -> None:
    v = service.vocab
    actor = who.actor
    with st.form("post_need", clear_on_submit=False):
        org = _own_org(who, lang, "n_org")
        title = st.text_input(t("title", lang), key="n_title", max_chars=200)
        description = st.text_area(t("description", lang), key="n_desc", max_chars=20000)
        c1, c2, c3 = st.columns(3)
        industry = c1.selectbox(t("cluster", lang), v.industries.codes, format_func=v.industries.name, key="n_ind")
        district = c2.selectbox(t("district", lang), v.districts.codes, key="n_dist")
        maturity = c3.selectbox(t("wanted_maturity", lang), [m.label for m in v.maturity], index=3, key="n_mat")
        c4, c5, c6 = st.columns(3)
        modes = c4.multiselect(t("modes", lang), placeholder=t("all", lang), options=v.transfer_modes.codes, format_func=v.transfer_modes.name,
                               key="n_modes")
        budget = c5.number_input(t("budget", lang), min_value=0.0, max_value=1e8, value=None, key="n_budget")
        deadline = c6.date_input(t("deadline", lang), value=dt.date.today() + dt.timedelta(days=365), key="n_dl")
        keywords = st.text_input(t("keywords", lang), key="n_kw", max_chars=500)
        secret = st.checkbox(t("brokers_only", lang), key="n_secret")
        if st.form_submit_button(t("submit", lang), type="primary"):
            try:
                row = service.add_need({"org": org, "title": title, "description": description,
                                        "industry": industry, "district": district, "wanted_maturity": maturity,
                                        "coop_modes": modes, "budget": budget, "deadline": deadline,
                                        "keywords": keywords, "confidentiality": "brokers" if secret else "public",
                                        "posted_at": dt.date.today()}, actor=actor)
            except (ValidationError, ValueError) as exc:
                _errors(exc, lang)
            else:
                st.success(t("posted", lang, id=row["id"], title=row["title"]))


def _post_result(service: MatchService, lang: str, who: Principal) -> None:
    v = service.vocab
    actor = who.actor
    with st.form("post_result", clear_on_submit=False):
        org = _own_org(who, lang, "r_org")
        title = st.text_input(t("title", lang), key="r_title", max_chars=200)
        abstract = st.text_area(t("abstract", lang), key="r_abs", max_chars=20000)
        c1, c2, c3 = st.columns(3)
        industry = c1.selectbox(t("cluster", lang), v.industries.codes, format_func=v.industries.name, key="r_ind")
        district = c2.selectbox(t("district", lang), v.districts.codes, key="r_dist")
        maturity = c3.selectbox(t("maturity", lang), [m.label for m in v.maturity], index=2, key="r_mat")
        c4, c5, c6 = st.columns(3)
        modes = c4.multiselect(t("modes", lang), placeholder=t("all", lang), options=v.transfer_modes.codes, format_func=v.transfer_modes.name,
                               key="r_modes")
        price = c5.number_input(t("price", lang), min_value=0.0, max_value=1e8, value=None, key="r_price")
        ip = c6.selectbox(t("ip_type", lang), v.ip_types.codes, format_func=v.ip_types.name, key="r_ip")
        keywords = st.text_input(t("keywords", lang), key="r_kw", max_chars=500)
        if st.form_submit_button(t("submit", lang), type="primary"):
            try:
                row = service.add_result({"org": org, "title": title, "abstract": abstract,
                                          "industry": industry, "district": district, "maturity": maturity,
                                          "transfer_modes": modes, "price": price, "ip_type": ip,
                                          "keywords": keywords, "posted_at": dt.date.today()}, actor=actor)
            except (ValidationError, ValueError) as exc:
                _errors(exc, lang)
            else:
                st.success(t("posted", lang, id=row["id"], title=row["title"]))


def _import(service: MatchService, lang: str, actor: str) -> None:
    kind = st.radio(t("kind", lang), ["needs", "results", "organisations"], horizontal=True, key="i_kind",
                    format_func=lambda k: {"needs": t("needs", lang), "results": t("results", lang)}.get(k, k))
    upload = st.file_uploader(t("upload", lang), type=["csv", "jsonl", "json", "xlsx"], key="i_file")
    if upload is not None and st.button(t("import", lang), key="i_go", type="primary"):
        try:
            report = import_bytes(service, upload.getvalue(), kind, detect_format(upload.name), actor=actor,
                                  source=upload.name)
        except (TechmatchError, ValueError) as exc:
            st.error(str(exc))
            return
        st.success(t("import_done", lang, a=report.accepted, c=report.created, u=report.updated,
                     r=len({x.row for x in report.rejected})))
        if report.rejected:
            st.dataframe([{"row": x.row, "field": x.field, "reason": x.reason} for x in report.rejected],
                         hide_index=True, width="stretch")


def render(service: MatchService, lang: str, who: Principal) -> None:
    """The page (for a signed-in principal, who is the audit actor)."""
    st.header(t("listings", lang))
    # the API's roles: firms post needs, institutions results, brokers and admins both; only admins import
    tabs = {"search": True, "post_need": who.role in ("firm", "broker", "admin"),
            "post_result": who.role in ("institution", "broker", "admin"), "import": who.role == "admin"}
    shown = [name for name, allowed in tabs.items() if allowed]
    for name, tab in zip(shown, st.tabs([t(name, lang) for name in shown])):
        with tab:
            if name == "search":
                _search(service, lang, who)
            elif name == "post_need":
                _post_need(service, lang, who)
            elif name == "post_result":
                _post_result(service, lang, who)
            else:
                _import(service, lang, who.actor)
