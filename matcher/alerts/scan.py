"""The alert scan: reads the store's change log past its cursor and records an alert (once per subscription and
pair, ever) for every new or changed listing a subscriber should hear of, with a webhook delivery where one is set.

Alerts and the cursor move in one transaction, so a crash repeats a scan (the unique index drops the repeats) and
never skips one. One scan at a time across every process (a lock in the store).
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from typing import Any

from matcher.access import can_see_confidential
from matcher.alerts.payload import Payloads
from matcher.alerts.subscriptions import CURSOR
from matcher.matching.matcher import OTHER
from matcher.matching.service import Matching
from matcher.settings import Settings
from matcher.store import AVAILABLE, Store, now

LOCK = "alerts-scan"
LOCK_TTL = 300.0
BATCH = 500  # changes read per scan


class AlertScan:
    """The scan of the change log that records alerts for subscriptions."""

    def __init__(self, settings: Settings, store: Store, owner: str, matching: Matching, payloads: Payloads
                 ) -> None:
        self.payloads = payloads
        self.settings = settings
        self.store = store
        self.owner = owner
        self.matching = matching

    def _record(self, sub: dict[str, Any], side: str, listing_id: int, counterpart_id: int,
                confidence: float, body: dict[str, Any]) -> bool:
        """Insert the alert (and its delivery) unless this subscription heard of this pair before."""
        store = self.store
        alert_id = store.insert_new("alerts", {"subscription_id": sub["id"], "side": side, "listing_id": listing_id,
                                               "counterpart_id": counterpart_id, "confidence": confidence,
                                               "payload": body, "created_at": body["created_at"]},
                                    ("subscription_id", "side", "listing_id", "counterpart_id"))
        if alert_id is None:  # this subscription heard of this pair before
            return False
        if sub.get("webhook_url"):
            store.insert("deliveries", {"alert_id": alert_id, "subscription_id": sub["id"], "status": "pending",
                                        "attempts": 0, "next_attempt_at": time.time(), "created_at": now(),
                                        "updated_at": now()})
        return True

    def _own(self, subs: list[dict[str, Any]], side: str, row: dict[str, Any]) -> list[tuple]:
        """(subscription, counterpart row, confidence) for subscribers one of whose own listings is among the new
        listing's best counterparts."""
        by_org: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for sub in subs:
            if sub["kind"] == "own" and sub["side"] == side and sub["org_id"] != row.get("org_id"):
                by_org[int(sub["org_id"])].append(sub)
        if not by_org:
            return []
        filters = {"status": AVAILABLE[OTHER[side]]}
        rankings: list[tuple[Any, list[int]]] = [(True, list(by_org))]
        if side == "results":
            # needs are ranked as each subscriber may see them: other organisations' confidential needs take no place
            # (and count for no statistic) in its ranking; one shared ranking for the organisations that hold none
            secret = self.store.confidential_owners(list(by_org))
            rankings = [(None, [o for o in by_org if o not in secret])] + [
                (self.payloads.principal_of(by_org[o][0]), [o]) for o in secret]
        found = []
        for viewer, orgs in rankings:
            if not orgs:
                continue
            for m in self.matching.match_listing(side, row["id"], top_k=self.settings.alert_top_k, filters=filters,
                                                 explain=False, viewer=viewer):
                org = int(m.item.get("org_id") or 0)
                for sub in by_org.get(org, []) if org in orgs else []:
                    if m.sure >= sub["min_confidence"]:
                        found.append((sub, m.item, m.sure))
        return found

    def _searches(self, subs: list[dict[str, Any]], changed: dict[str, set[int]]
                  ) -> list[tuple[dict[str, Any], str, int, float]]:
        """(subscription, side, listing id, confidence) for saved searches that now find a changed listing: each
        search runs once per scan, as its organisation may see the catalogue."""
        found = []
        for sub in subs:
            ids = changed.get(sub["side"], set())
            if sub["kind"] != "search" or not ids:
                continue
            filters = {**{k: v for k, v in (sub.get("filters") or {}).items() if v}, "status": AVAILABLE[sub["side"]]}
            hits = self.matching.search(sub["query"], sub["side"], top_k=self.settings.alert_top_k, filters=filters,
                                        viewer=self.payloads.principal_of(sub), explain=False)
            for m in hits:
                if m.id in ids and m.item.get("org_id") != sub["org_id"] and m.sure >= sub["min_confidence"]:
                    found.append((sub, sub["side"], m.id, m.sure))
        return found

    def scan(self, limit: int = BATCH) -> dict[str, int]:
        """One pass over the change log past the cursor: record the alerts it earns, move the cursor. Returns
        {"changes": read, "alerts": recorded}; does nothing while another process scans."""
        store = self.store
        token = f"{self.owner}:{uuid.uuid4().hex[:8]}"
        if not store.try_lock(LOCK, token, LOCK_TTL):
            return {"changes": 0, "alerts": 0}
        try:
            cursor = store.meta(CURSOR)
            if cursor is None:  # alerts start now: the history before them was never subscribed to
                store.put_meta(CURSOR, str(store.last_change()))
                return {"changes": 0, "alerts": 0}
            read = store.changes_since(int(cursor), limit)
            changes = [c for c in read if c["side"] in AVAILABLE]
            last = max([int(c["seq"]) for c in read] or [int(cursor)])
            subs = store.rows("subscriptions")
            recorded = 0
            alerts: list[tuple[dict[str, Any], str, dict[str, Any], int, float, dict[str, Any] | None]] = []
            if subs and changes:
                latest: dict[tuple[str, int], int] = {}
                for c in changes:
                    if c["op"] == "upsert":
                        latest[(c["side"], int(c["item_id"]))] = int(c["seq"])
                by_side = {side: store.get_many(side, [i for s, i in latest if s == side]) for side in AVAILABLE}
                rows = {key: by_side[key[0]].get(key[1]) for key in latest}
                live = {key: row for key, row in rows.items()
                        if row is not None and row.get("status") in AVAILABLE[key[0]]}
                for (side, _), row in live.items():
                    seq = latest[(side, row["id"])]
                    for sub, other, conf in self._own([s for s in subs if s["since_seq"] < seq], side, row):
                        alerts.append((sub, side, row, int(other["id"]), conf, other))
                changed = defaultdict(set)
                for (side, item_id) in live:
                    changed[side].add(item_id)
                for sub, side, item_id, conf in self._searches(subs, changed):
                    if sub["since_seq"] < latest[(side, item_id)]:
                        alerts.append((sub, side, live[(side, item_id)], 0, conf, None))
            with store.transaction():
                for sub, side, row, counterpart_id, conf, other in alerts:
                    who = self.payloads.principal_of(sub)
                    if side == "needs" and not can_see_confidential(who, row):
                        continue  # a confidential need reaches only its owner, brokers and admins
                    body = self.payloads.payload(sub, who, side, row, conf, other)
                    recorded += self._record(sub, side, int(row["id"]), counterpart_id, conf, body)
                store.put_meta(CURSOR, str(last))
            return {"changes": len(read), "alerts": recorded}
        finally:
            store.release_lock(LOCK, token)
