"""What an alert tells its subscriber: the new listing as the subscriber's organisation may see it (a confidential
need redacted), its link, and the subscriber's own listing it fits. Rendered when the alert is recorded, and again
whenever it is read or sent if the need has since become confidential."""

from __future__ import annotations

from typing import Any

from matcher.access import Principal, can_see_confidential, need_view
from matcher.ingest.vocab import Vocab
from matcher.settings import Settings
from matcher.store import Store, now

SUMMARY_CHARS = 200


class Payloads:
    """What an alert says: the listing as its subscriber may see it."""

    def __init__(self, settings: Settings, store: Store, vocab: Vocab) -> None:
        self.settings = settings
        self.store = store
        self.vocab = vocab

    def listing_url(self, side: str, item_id: int) -> str:
        """The listing's page on the public site (relative when no public_url is set)."""
        return f"{self.settings.public_url}/{side}/{item_id}"

    def payload(self, sub: dict[str, Any], who: Principal, side: str, row: dict[str, Any],
                confidence: float, counterpart: dict[str, Any] | None) -> dict[str, Any]:
        """What the subscriber is told, as its organisation may see the listing (a confidential need redacted)."""
        vocab = self.vocab
        shown = need_view(row, who, vocab.industries.name(row["industry"])) if side == "needs" else row
        org = None
        if shown.get("org_id"):
            org = self.store.get("organisations", int(shown["org_id"]))["name"]
        text = shown.get("description") if side == "needs" else shown.get("abstract")
        listing = {"side": side, "id": row["id"], "title": shown["title"], "organisation": org,
                   "industry": row["industry"], "industry_name": vocab.industries.name(row["industry"]),
                   "district": row.get("district"), "summary": (text or "")[:SUMMARY_CHARS],
                   "url": self.listing_url(side, row["id"]), "redacted": bool(shown.get("redacted"))}
        out = {"event": "match", "subscription_id": sub["id"], "subscription": sub.get("name") or "",
               "kind": sub["kind"], "confidence": round(confidence, 4), "listing": listing, "created_at": now()}
        if counterpart is not None:
            other = "results" if side == "needs" else "needs"
            out["your_listing"] = {"side": other, "id": counterpart["id"], "title": counterpart["title"],
                                   "url": self.listing_url(other, counterpart["id"])}
        return out

    def current_payload(self, alert: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
        """The alert as its subscriber may read it now: a need made confidential after the alert was recorded is
        redacted here too (feed, digest, API, webhook retries)."""
        stored = alert["payload"]
        if alert["side"] != "needs":
            return stored
        row = self.store.find("needs", id=int(alert["listing_id"]))
        who = self.principal_of(sub)
        if row is None or can_see_confidential(who, row):
            return stored
        mine = stored.get("your_listing")
        fresh = self.payload(sub, who, "needs", row, float(alert["confidence"]),
                             {"id": mine["id"], "title": mine["title"]} if mine else None)
        return {**fresh, "created_at": stored.get("created_at", fresh["created_at"])}

    def principal_of(self, row: dict[str, Any]) -> Principal:
        """The caller a subscription acts as when it looks at listings (what its organisation and role may see)."""
        org = self.store.get("organisations", int(row["org_id"]))
        return Principal(key_id=0, role=row["role"], org_id=int(row["org_id"]), org_name=org["name"])
