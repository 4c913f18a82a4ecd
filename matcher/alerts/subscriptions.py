"""Subscriptions: a firm, an institution or a broker asks to hear of new counterparts of its own listings, or of new
listings a saved search (text + filters) finds; each subscription may name a webhook and has an Atom feed.

A subscription belongs to its organisation (and role); only that organisation and admins see it.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from matcher.access import Principal
from matcher.alerts.address import check
from matcher.alerts.delivery import Deliveries
from matcher.alerts.feed import atom
from matcher.alerts.payload import Payloads
from matcher.errors import Forbidden, Invalid, NotFound
from matcher.ingest.vocab import Vocab
from matcher.localtime import beijing
from matcher.settings import Settings
from matcher.store import Store, now

KINDS = ("own", "search")
CURSOR = "alerts_seq"  # how far the alert scan has read the change log (a catalogue fact in the store)
OWN_SIDE = {"firm": "results", "institution": "needs"}  # what a firm's / an institution's own listings meet
FILTER_KEYS = ("industry", "district")


def _webhook(url: str | None, private: bool = False) -> str:
    """A webhook address as given, or Invalid: http(s), a host, no credentials in it, and (unless `private`) a
    host that does not resolve to a non-public address (checked again before every attempt)."""
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("webhook_url must be an http:// or https:// address with a host")
    if parts.username or parts.password:
        raise Invalid("webhook_url must not carry a user name or password; the signature authenticates us")
    if len(url) > 500:
        raise Invalid("webhook_url is longer than 500 characters")
    why = check(url, private)
    if why:
        raise Invalid(f"webhook_url: {why}")
    return url



def day_of(stamp: str) -> str:
    """The Beijing date (YYYY-MM-DD) of a stored UTC timestamp: the daily digest's day."""
    return beijing(stamp).date().isoformat()

class Alerts:
    """Subscriptions, the alerts they received, their deliveries and Atom feeds."""

    def __init__(self, settings: Settings, store: Store, vocab: Vocab, payloads: Payloads, deliveries: Deliveries
                 ) -> None:
        self.payloads = payloads
        self.deliveries = deliveries
        self.settings = settings
        self.store = store
        self.vocab = vocab

    def create(self, who: Principal, kind: str, side: str | None = None, query: str = "",
               filters: dict[str, Any] | None = None, min_confidence: float = 0.3, webhook_url: str | None = None,
               name: str = "") -> dict[str, Any]:
        """Subscribe `who`'s organisation; returns the subscription with its webhook secret (shown this once).

        kind "own": new listings on the other side that match one of the organisation's own listings (a firm hears
        of results, an institution of needs; a broker or admin names `side`). kind "search": new listings on `side`
        that the saved search (`query` and `filters`) finds. Only changes after the subscription count.
        """
        if kind not in KINDS:
            raise Invalid(f"kind must be one of {', '.join(KINDS)}")
        if not 0 <= float(min_confidence) <= 1:
            raise Invalid("min_confidence must be between 0 and 1")
        query = (query or "").replace("\x00", "").strip()
        filters = {k: list(v) for k, v in (filters or {}).items() if v}
        unknown = set(filters) - set(FILTER_KEYS)
        if unknown:
            raise Invalid(f"unknown filter {sorted(unknown)[0]!r}; use {', '.join(FILTER_KEYS)}")
        vocab = self.vocab
        for key, names in (("industry", vocab.industries), ("district", vocab.districts)):
            bad = [c for c in filters.get(key, []) if c not in names.names]
            if bad:
                raise Invalid(f"unknown {key} {bad[0]!r}")
        if kind == "own":
            side = OWN_SIDE.get(who.role, side)
            if side is None:
                raise Invalid("a broker's or admin's subscription to own listings names the side to watch")
        elif side is None or not query:
            raise Invalid("a saved-search subscription needs the side to watch (needs or results) and a query text")
        if side not in ("needs", "results"):
            raise Invalid("side must be needs or results")
        hook = _webhook(webhook_url, self.settings.alert_private_webhooks)
        row = {"org_id": who.org_id, "role": who.role, "actor": who.actor, "name": (name or "").strip()[:200],
               "kind": kind, "side": side, "query": query[:2000], "filters": filters,
               "min_confidence": float(min_confidence), "webhook_url": hook,
               "secret": secrets.token_hex(32), "feed_token": secrets.token_urlsafe(24),
               "since_seq": self.store.last_change(), "created_at": now()}
        with self.store.transaction():
            if self.store.meta(CURSOR) is None:  # alerts start with the first subscription, whenever a worker runs
                self.store.put_meta(CURSOR, str(row["since_seq"]))
            sub_id = self.store.insert("subscriptions", row)
            self.store.audit(who.actor, "subscribe", "subscriptions", sub_id, {"kind": kind, "side": side})
        return {**self.view(self.store.get("subscriptions", sub_id)), "secret": row["secret"]}

    def view(self, row: dict[str, Any]) -> dict[str, Any]:
        """A subscription as its owner sees it: no secret, the feed's address, its alert and delivery counts."""
        out = {k: v for k, v in row.items() if k not in ("secret", "since_seq")}
        base = self.settings.public_url
        out["feed_url"] = f"{base}/subscriptions/{row['id']}/feed.atom?token={row['feed_token']}"
        out["alerts"] = self.store.count("alerts", {"subscription_id": row["id"]})
        return out

    def owned(self, sub_id: int, who: Principal | None) -> dict[str, Any]:
        """The subscription row if `who` may see it (its organisation, or an admin); NotFound otherwise (no hint
        that it exists)."""
        try:
            row = self.store.get("subscriptions", sub_id)
        except NotFound:
            raise NotFound(f"subscription {sub_id} not found") from None
        if who is None or not (who.role == "admin" or who.org_id == row["org_id"]):
            raise NotFound(f"subscription {sub_id} not found")
        return row

    def list_for(self, who: Principal) -> list[dict[str, Any]]:
        """The organisation's subscriptions (every one for an admin), newest first."""
        if who.role == "admin":
            rows = self.store.rows("subscriptions", order="-id")
        else:
            rows = self.store.rows("subscriptions", {"org_id": who.org_id}, order="-id")
        return [self.view(r) for r in rows]

    def delete(self, sub_id: int, who: Principal) -> None:
        """Unsubscribe: the subscription, its alerts and deliveries go."""
        self.owned(sub_id, who)
        with self.store.transaction():
            self.store.delete_subscription(sub_id)
            self.store.audit(who.actor, "unsubscribe", "subscriptions", sub_id, {})

    def by_feed_token(self, sub_id: int, token: str) -> dict[str, Any]:
        """The subscription whose feed token this is (constant-time compare of the bytes), or Forbidden."""
        row = self.store.find("subscriptions", id=sub_id)
        if row is None or not token or not secrets.compare_digest(str(row["feed_token"]).encode(), token.encode()):
            raise Forbidden("unknown subscription or feed token")
        return row

    def alerts_of(self, sub_id: int, who: Principal | None, limit: int = 100) -> list[dict[str, Any]]:
        """A subscription's alerts, newest first, as its organisation may read them now (NotFound unless `who` may see
        the subscription)."""
        sub = self.owned(sub_id, who)
        rows = self.store.rows("alerts", {"subscription_id": sub_id}, order="-id", limit=limit)
        return [{**r, "payload": self.payloads.current_payload(r, sub)} for r in rows]

    def deliveries_of(self, sub_id: int, who: Principal | None, limit: int = 100
                      ) -> list[dict[str, Any]]:
        """A subscription's webhook deliveries, newest first (NotFound unless `who` may see the subscription)."""
        self.owned(sub_id, who)
        return self.store.rows("deliveries", {"subscription_id": sub_id}, order="-id", limit=limit)

    def retry(self, sub_id: int, delivery_id: int, who: Principal, force: bool = False
              ) -> dict[str, Any]:
        """Send a delivery of one's own subscription again (a dead letter, once the receiver is fixed; a delivered one
        only with `force`)."""
        self.owned(sub_id, who)
        if self.store.find("deliveries", id=delivery_id, subscription_id=sub_id) is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return self.deliveries.redeliver(delivery_id, actor=who.actor, force=force)

    def feed_of(self, sub_id: int, token: str) -> bytes:
        """The Atom feed of a subscription, for whoever holds its feed token."""
        sub = self.by_feed_token(sub_id, token)
        rows = self.store.rows("alerts", {"subscription_id": sub_id}, order="-id", limit=50)
        shown = [{**r, "payload": self.payloads.current_payload(r, sub)} for r in rows]
        return atom(self.settings.public_url, self.store.catalogue_id, sub, shown)

    def digest(self, who: Principal, limit: int = 500) -> list[tuple[str, list[dict[str, Any]]]]:
        """[(day, alerts)] for the organisation's subscriptions, newest day first, best match first within a day; each
        alert carries its subscription's name and its delivery's status (None without a webhook)."""
        subs = {s["id"]: s for s in self.list_for(who)}
        if not subs:
            return []
        store = self.store
        rows = store.rows("alerts", {"subscription_id": list(subs)}, order="-id", limit=limit)
        sent = {d["alert_id"]: d["status"] for d in store.rows("deliveries", {"subscription_id": list(subs)})}
        days: dict[str, list[dict[str, Any]]] = {}
        owners = {r["id"]: r for r in store.rows("subscriptions", {"id": list(subs)})}
        for row in rows:
            shown = self.payloads.current_payload(row, owners[row["subscription_id"]])
            days.setdefault(day_of(row["created_at"]), []).append(
                {**row, "payload": shown, "subscription": subs[row["subscription_id"]],
                 "delivery": sent.get(row["id"])})
        return [(day, sorted(items, key=lambda a: -a["confidence"])) for day, items in
                sorted(days.items(), reverse=True)]
