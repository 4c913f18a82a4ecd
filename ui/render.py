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


def card(title: str, badges: list[str], meta: str, body_html: str, title_html: str | None = None) -> str:
    """A listing card: title (escaped, or given as escaped HTML with its terms marked), badges, a muted meta line
    and the (already escaped) body."""
    heading = title_html if title_html is not None else html.escape(title)
    return (f'<div class="listing"><h4>{heading}</h4>{"".join(badges)}'
            f'<div class="muted">{html.escape(meta)}</div><div>{body_html}</div></div>')


def local_time(stamp: str | None) -> str:
    """A stored timestamp (UTC) as Beijing time to the minute, the way brokers read a clock."""
    from matcher.localtime import beijing

    if not stamp:
        return ""
    try:
        return beijing(stamp).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp[:16]
