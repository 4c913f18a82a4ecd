"""Small rendering helpers shared by the pages: highlighting, badges and cards (HTML is escaped first)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

CSS = """
<style>
mark.term {background: #ffe58f; padding: 0 2px; border-radius: 3px;}
mark.best {background: #d9f7be; border-bottom: 2px solid #52c41a; padding: 0 1px;}
.badge {display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.78rem; margin-right: 4px;
        background: #f0f0f0; color: #333;}
.badge.secret {background: #fff1f0; color: #cf1322; border: 1px solid #ffa39e;}
.badge.ok {background: #f6ffed; color: #389e0d; border: 1px solid #b7eb8f;}
.badge.warn {background: #fffbe6; color: #d48806; border: 1px solid #ffe58f;}
.listing {border: 1px solid #e8e8e8; border-radius: 8px; padding: 12px 14px; background: #fff; line-height: 1.7;}
.listing h4 {margin: 0 0 6px 0; font-size: 1.1rem; line-height: 1.4;}
.muted {color: #8c8c8c; font-size: 0.85rem;}
[data-testid="stAppDeployButton"] {display: none;}
[data-testid="stFileUploaderDropzoneInstructions"] {display: none;}
.block-container {padding-top: 2.2rem; padding-bottom: 1rem;}
h2 {padding-top: 0.2rem;}
</style>
"""


def highlight(text: str, terms: Iterable[str], best: str = "") -> str:
    """`text` escaped, with the best sentence marked green and the shared terms marked yellow."""
    safe = html.escape(text or "")
    if best:
        b = html.escape(best)
        if b in safe:
            safe = safe.replace(b, f"\x01{b}\x02", 1)
    words = sorted({html.escape(w) for w in terms if w}, key=len, reverse=True)
    if words:
        pattern = re.compile("|".join(re.escape(w) for w in words), re.I)
        safe = pattern.sub(lambda m: f'<mark class="term">{m.group(0)}</mark>', safe)
    return safe.replace("\x01", '<mark class="best">').replace("\x02", "</mark>")


def badge(text: str, kind: str = "") -> str:
    """A small rounded label."""
    return f'<span class="badge {kind}">{html.escape(str(text))}</span>'


def card(title: str, badges: list[str], meta: str, body_html: str, title_html: str | None = None,
         meta_html: str | None = None) -> str:
    """A listing card: title (escaped, or given as escaped HTML with its terms marked), badges, a muted meta line
    (text, or escaped HTML with links) and the (already escaped) body."""
    heading = title_html if title_html is not None else html.escape(title)
    line = meta_html if meta_html is not None else html.escape(meta)
    return (f'<div class="listing"><h4>{heading}</h4>{"".join(badges)}'
            f'<div class="muted">{line}</div><div>{body_html}</div></div>')


def local_time(stamp: str | None) -> str:
    """A stored timestamp (UTC) as Beijing time to the minute, the way brokers read a clock."""
    from matcher.localtime import beijing

    if not stamp:
        return ""
    try:
        return beijing(stamp).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp[:16]


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w+])(\+?86[- ]?)?(1[3-9]\d{9}|0\d{2,3}[- ]?\d{7,8})(?![\w])")
ROLE_NAMES = {"firm": ("企业", "firm"), "institution": ("高校院所", "institution"), "broker": ("经纪人", "broker"),
              "admin": ("管理员", "admin")}


def contact_html(contact: str | None) -> str:
    """A contact line escaped, its e-mail addresses as mailto: links and its phone numbers as tel: links."""
    safe = html.escape(contact or "")
    safe = _EMAIL.sub(lambda m: f'<a href="mailto:{m.group(0)}">{m.group(0)}</a>', safe)
    return _PHONE.sub(lambda m: f'<a href="tel:{re.sub(r"[- ]", "", m.group(0))}">{m.group(0)}</a>', safe)


def colon(lang: str) -> str:
    """The colon after a label: full width in Chinese, ": " in English."""
    return "：" if lang == "zh" else ": "


def money(value: float | None, negotiable: bool | None, lang: str) -> str:
    """An amount stored in 万元 as a reader expects it: 150 万元, or CNY 1.5 million / CNY 800,000 in English;
    面议 / negotiable where none is given."""
    if value is None or negotiable:
        return "面议" if lang == "zh" else "negotiable"
    if lang == "zh":
        return f"{value:g} 万元"
    yuan = float(value) * 10_000
    return f"CNY {yuan / 1e6:g} million" if yuan >= 1e6 else f"CNY {yuan:,.0f}"


def actor_label(actor: str | None, lang: str) -> str:
    """How the audit log names someone (`broker:某中心@wang`, `admin:某局#3`, `demo`, `cli`) as a person reads it:
    the user and the organisation, or the organisation and its role — never the raw code."""
    if not actor:
        return ""
    role, sep, rest = actor.partition(":")
    if not sep or role not in ROLE_NAMES:
        return {"demo": ("演示数据", "demo data"), "cli": ("命令行", "command line"),
                "system": ("系统", "system")}.get(actor, (actor, actor))[lang == "en"]
    name = ROLE_NAMES[role][lang == "en"]
    org, at, user = rest.partition("@")
    if at:
        return f"{user}（{org}）" if lang == "zh" else f"{user} ({org})"
    org = org.rsplit("#", 1)[0]
    return f"{org}（{name}）" if lang == "zh" else f"{org} ({name})"
