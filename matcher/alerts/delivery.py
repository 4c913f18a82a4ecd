"""Webhook delivery: each pending delivery is POSTed as JSON to its subscription's URL, signed with HMAC-SHA256
(`X-Techmatch-Signature: sha256=<hex of HMAC(secret, body)>`), retried with exponential backoff, and
dead-lettered after `alert_max_attempts` failures (listed with its last error in the subscription's deliveries).

A delivery is claimed in the store before it is sent, so two workers (two API processes) never send it twice at
once; a worker that dies mid-send leaves a claim that lapses, and the delivery is tried again.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import urllib.error
import urllib.request
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from matcher.alerts.payload import current_payload
from matcher.errors import Conflict
from matcher.store import now

log = logging.getLogger("techmatch.alerts")

if TYPE_CHECKING:
    from matcher.service import MatchService

MAX_WAIT = 3600.0  # the longest pause between two attempts
USER_AGENT = "techmatch-webhook/1"


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for a body: what a receiver recomputes with the secret it was given."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int, base: float) -> float:
    """Seconds to wait after the `attempts`-th failure: base, 2·base, 4·base, … at most an hour."""
    return min(MAX_WAIT, base * 2 ** max(0, attempts - 1))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook is POSTed to the address given, never where a redirect points (which may be inside our network)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def blocked(url: str) -> str | None:
    """Why the webhook's host may not be called (it resolves to a loopback, private, link-local or reserved
    address: a subscriber must not make the server reach into its own network), or None."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as exc:
        return f"cannot resolve {host}: {exc}"
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if (address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
                or address.is_multicast or address.is_unspecified):
            return f"{host} resolves to a non-public address (set TECHMATCH_ALERT_PRIVATE_WEBHOOKS to allow it)"
    return None


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, private: bool = False
         ) -> tuple[int | None, str]:
    """POST the body; (HTTP status or None, error text or ""). Whatever the receiver does — refuse, hang, answer
    something that is not HTTP — is an outcome, never an exception."""
    if not private:
        why = blocked(url)
        if why:
            return None, why
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _OPENER.open(request, timeout=timeout) as reply:  # http(s) only: checked on subscribe
            return reply.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code} {exc.reason}"
    except Exception as exc:  # URLError, timeouts, resets, a reply that is not HTTP (http.client.BadStatusLine)
        reason = getattr(exc, "reason", exc)
        return None, f"{type(exc).__name__}: {reason}"[:500]


def deliver_one(service: MatchService, delivery: dict[str, Any]) -> str:
    """Send one claimed delivery and record the outcome; returns its new status."""
    store, settings = service.store, service.settings
    alert = store.get("alerts", int(delivery["alert_id"]))
    sub = store.get("subscriptions", int(delivery["subscription_id"]))
    body = json.dumps({**current_payload(service, alert, sub), "alert_id": alert["id"],
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


def deliver_due(service: MatchService, limit: int = 20) -> dict[str, int]:
    """Send the deliveries that are due (each claimed first); counts by outcome."""
    store = service.store
    owner = f"{service.owner}:{uuid.uuid4().hex[:8]}"
    counts = {"delivered": 0, "pending": 0, "dead": 0}
    for row in store.due_deliveries(time.time(), limit):
        lease = time.time() + 3 * service.settings.alert_timeout
        if not store.claim_delivery(int(row["id"]), owner, time.time(), lease):
            continue  # another worker has it
        try:
            counts[deliver_one(service, store.get("deliveries", int(row["id"])))] += 1
        except Exception:  # a bug or a store error: the claim lapses and the delivery is tried again
            log.exception("delivery %s failed", row["id"])
    return counts


def redeliver(service: MatchService, delivery_id: int, actor: str = "system") -> dict[str, Any]:
    """Put a dead-lettered (or failing) delivery back in line, due now, its attempts counted afresh."""
    store = service.store
    row = store.get("deliveries", delivery_id)
    if row["status"] == "pending" and (row.get("claimed_until") or 0) > time.time():
        raise Conflict("this delivery is being sent right now")
    with store.transaction():
        store.update("deliveries", delivery_id, {"status": "pending", "attempts": 0, "next_attempt_at": time.time(),
                                                 "claimed_by": None, "claimed_until": None, "updated_at": now()})
        store.audit(actor, "redeliver", "deliveries", delivery_id, {"was": row["status"]})
    return store.get("deliveries", delivery_id)
