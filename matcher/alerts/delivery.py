"""Webhook delivery: each pending delivery is POSTed as JSON to its subscription's URL, signed with HMAC-SHA256
over a timestamp and the body (`X-Techmatch-Signature: t=<unix seconds>,v1=<hex of HMAC(secret, "<t>." + body)>`,
so a receiver refuses a replayed request older than its tolerance, `SIGNATURE_TOLERANCE` by default), retried with
exponential backoff, and dead-lettered after `alert_max_attempts` failures (listed with its last error in the
subscription's deliveries). Only public addresses are called, at the address that was checked (see address.py).

A delivery is claimed in the store before it is sent, so two workers (two API processes) never send it twice at
once; a worker that dies mid-send leaves a claim that lapses, and the delivery is tried again. A delivered one is
sent again only when a retry asks for it explicitly (`force`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from typing import Any

from matcher.alerts.address import Refused, resolve, send
from matcher.alerts.payload import Payloads
from matcher.errors import Conflict
from matcher.settings import Settings
from matcher.store import Store, now

log = logging.getLogger("techmatch.alerts")


MAX_WAIT = 3600.0  # the longest pause between two attempts
USER_AGENT = "techmatch-webhook/2"
SIGNATURE_TOLERANCE = 300  # seconds: how old a signed request a receiver should accept (see `verify`)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header's value for a body sent at `timestamp` (now by default): `t=<timestamp>,v1=<hex>`,
    the HMAC-SHA256 of `"<timestamp>." + body` under the subscription's secret."""
    stamp = int(time.time() if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, tolerance: float = SIGNATURE_TOLERANCE,
           now_ts: float | None = None) -> bool:
    """A receiver's check of a delivery: the signature matches the body and its timestamp, and the timestamp is
    within `tolerance` seconds of now (an older request is a replay)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now_ts is None else now_ts) - stamp) > tolerance:
        return False
    expected = sign(secret, body, stamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def backoff(attempts: int, base: float) -> float:
    """Seconds to wait after the `attempts`-th failure: base, 2·base, 4·base, … at most an hour."""
    return min(MAX_WAIT, base * 2 ** max(0, attempts - 1))


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, private: bool = False
         ) -> tuple[int | None, str]:
    """POST the body to the URL's host, resolved once and checked (public addresses only unless `private`), at the
    address checked; (HTTP status or None, error text or ""). Whatever the receiver does — refuse, hang, redirect,
    answer something that is not HTTP — is an outcome, never an exception."""
    try:
        target = resolve(url, private)
    except Refused as exc:
        return None, str(exc)
    try:
        status = send(target, body, headers, timeout)
    except Exception as exc:  # refused, timeouts, resets, TLS failures, a reply that is not HTTP (BadStatusLine)
        return None, f"{type(exc).__name__}: {exc}"[:500]
    return status, "" if 200 <= status < 300 else f"HTTP {status}"


class Deliveries:
    """Webhook deliveries: signed, retried with backoff, claimed by one worker."""

    def __init__(self, settings: Settings, store: Store, owner: str, payloads: Payloads) -> None:
        self.settings = settings
        self.store = store
        self.owner = owner
        self.payloads = payloads

    def deliver_one(self, delivery: dict[str, Any]) -> str:
        """Send one claimed delivery and record the outcome; returns its new status."""
        store, settings = self.store, self.settings
        alert = store.get("alerts", int(delivery["alert_id"]))
        sub = store.get("subscriptions", int(delivery["subscription_id"]))
        body = json.dumps({**self.payloads.current_payload(alert, sub), "alert_id": alert["id"],
                           "delivery_id": delivery["id"]}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                   "X-Techmatch-Signature": sign(sub["secret"], body), "X-Techmatch-Delivery": str(delivery["id"]),
                   "X-Techmatch-Event": "match"}
        status, error = post(sub["webhook_url"], body, headers, settings.alert_timeout, settings.alert_private_webhooks)
        attempts = int(delivery["attempts"] or 0) + 1
        change: dict[str, Any] = {"attempts": attempts, "last_status": status, "claimed_by": None,
                                  "claimed_until": None, "updated_at": now()}
        if status is not None and 200 <= status < 300:
            change.update(status="delivered", delivered_at=now(), last_error=None)
        elif attempts >= settings.alert_max_attempts:
            change.update(status="dead", last_error=error or f"HTTP {status}")
        else:
            change.update(next_attempt_at=time.time() + backoff(attempts, settings.alert_retry_base),
                          last_error=error or f"HTTP {status}")
        if not store.finish_delivery(int(delivery["id"]), str(delivery["claimed_by"]), change):
            return "pending"  # the claim lapsed while sending and another worker took it: its outcome stands
        return change.get("status", "pending")

    def deliver_due(self, limit: int = 20) -> dict[str, int]:
        """Send the deliveries that are due (each claimed first); counts by outcome."""
        store = self.store
        owner = f"{self.owner}:{uuid.uuid4().hex[:8]}"
        counts = {"delivered": 0, "pending": 0, "dead": 0}
        for row in store.due_deliveries(time.time(), limit):
            lease = time.time() + 3 * self.settings.alert_timeout
            if not store.claim_delivery(int(row["id"]), owner, time.time(), lease):
                continue  # another worker has it
            try:
                counts[self.deliver_one(store.get("deliveries", int(row["id"])))] += 1
            except Exception:  # a bug or a store error: the claim lapses and the delivery is tried again
                log.exception("delivery %s failed", row["id"])
        return counts

    def redeliver(self, delivery_id: int, actor: str = "system", force: bool = False) -> dict[str, Any]:
        """Put a dead-lettered (or failing) delivery back in line, due now, its attempts counted afresh; a delivered one
        only with `force` (the receiver asked for it again: a retry never repeats a success by accident)."""
        store = self.store
        row = store.get("deliveries", delivery_id)
        if row["status"] == "pending" and (row.get("claimed_until") or 0) > time.time():
            raise Conflict("this delivery is being sent right now")
        if row["status"] == "delivered" and not force:
            raise Conflict(f"delivery {delivery_id} was delivered at {row.get('delivered_at')}; to send it again, "
                           "retry with force=true")
        with store.transaction():
            store.update("deliveries", delivery_id, {"status": "pending", "attempts": 0, "next_attempt_at": time.time(),
                                                     "claimed_by": None, "claimed_until": None, "updated_at": now()})
            store.audit(actor, "redeliver", "deliveries", delivery_id, {"was": row["status"]})
        return store.get("deliveries", delivery_id)
