"""An Atom feed per subscription (RFC 4287): its newest alerts, for a feed reader or a mail-to-feed service."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

ATOM = "http://www.w3.org/2005/Atom"
ENTRIES = 50


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    el.text = text
    return el


def entry_title(payload: dict[str, Any]) -> str:
    """One alert in a line: the new listing, and the subscriber's own listing it fits."""
    listing = payload["listing"]
    kind = "新需求" if listing["side"] == "needs" else "新成果"
    title = f"{kind}：{listing['title']}（匹配把握 {payload['confidence']:.0%}）"
    if payload.get("your_listing"):
        title += f" ↔ 您的「{payload['your_listing']['title']}」"
    return title


def atom(base: str, catalogue_id: str, sub: dict[str, Any], alerts: list[dict[str, Any]]) -> bytes:
    """The feed document of a subscription (alerts newest first); `base` is the public site's address, `catalogue_id`
    the catalogue's, for the entries' ids."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    name = sub.get("name") or ("我的清单的新对接方" if sub["kind"] == "own" else f"保存的检索：{sub['query'][:40]}")
    _text(feed, "title", f"techmatch 提醒 · {name}")
    _text(feed, "id", f"urn:techmatch:{catalogue_id}:subscription:{sub['id']}")
    _text(feed, "updated", alerts[0]["created_at"] if alerts else sub["created_at"])
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "techmatch")
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "href": f"{base}/subscriptions/{sub['id']}/feed.atom"})
    for alert in alerts[:ENTRIES]:
        p = alert["payload"]
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", f"urn:techmatch:{catalogue_id}:alert:{alert['id']}")
        _text(entry, "title", entry_title(p))
        _text(entry, "updated", alert["created_at"])
        ET.SubElement(entry, f"{{{ATOM}}}link", {"rel": "alternate", "href": p["listing"]["url"]})
        summary = p["listing"]["summary"]
        if p["listing"].get("organisation"):
            summary = f"{p['listing']['organisation']} · {p['listing']['industry_name']}\n{summary}"
        _text(entry, "summary", summary)
        ET.SubElement(entry, f"{{{ATOM}}}category", {"term": p["listing"]["industry"],
                                                     "label": p["listing"]["industry_name"]})
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
