"""Throttling of sign-in: growing delays, then a temporary lockout, per account name and per client.

Every failed attempt is counted in the store (so every workbench and portal process shares the counts) under the
account name tried — whether or not such an account exists, so the answer never tells — and under the client it came
from. After a few free failures each further attempt must wait 1, 2, 4 … seconds (at most a minute) after the last;
at `lock_at` failures the key is locked for a quarter of an hour. While a key waits, an attempt is refused before
the password is even checked (the right password does not get in either), with the time to wait. Failures are
forgotten a quarter of an hour after the last; a successful sign-in clears its account's. Lockouts are audited.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from matcher.errors import Throttled

if TYPE_CHECKING:
    from matcher.store import Store

FORGET_AFTER = 900.0  # seconds after the last failure when a key's failures are forgotten
MAX_DELAY = 60.0


@dataclass(frozen=True)
class Rule:
    """How many failures a kind of key gets free, when it is locked and for how long."""

    free: int
    lock_at: int
    lock_for: float = 900.0

    def delay(self, failures: int) -> float:
        """Seconds an attempt must wait after the last failure."""
        return 0.0 if failures < self.free else min(MAX_DELAY, 2.0 ** (failures - self.free))


# an account: 3 free tries, then delays, locked at 10; a client (one address trying many names): more room, since
# several people may sign in from behind one address
RULES = {"account": Rule(free=3, lock_at=10), "client": Rule(free=10, lock_at=50)}


def keys(name: str, client: str | None) -> list[str]:
    """The throttling keys of an attempt: the account name tried (case and spaces aside) and the client."""
    out = [f"account:{(name or '').strip().lower()[:100]}"]
    if client:
        out.append(f"client:{client[:100]}")
    return out


def wait(store: Store, attempt: list[str], now_ts: float | None = None) -> float:
    """Seconds until an attempt under these keys may be tried (0: now)."""
    now_ts = time.time() if now_ts is None else now_ts
    longest = 0.0
    for row in store.sign_in_failures(attempt):
        if now_ts - float(row["last_at"] or 0) > FORGET_AFTER:
            continue
        rule = RULES[row["key"].split(":", 1)[0]]
        until = max(float(row["locked_until"] or 0), float(row["last_at"]) + rule.delay(int(row["failures"])))
        longest = max(longest, until - now_ts)
    return max(0.0, longest)


def check(store: Store, attempt: list[str]) -> None:
    """Refuse an attempt that must wait (Throttled with the seconds to wait; says nothing of the account)."""
    seconds = wait(store, attempt)
    if seconds > 0:
        raise Throttled(f"too many failed sign-ins: try again in {int(seconds) + 1} seconds", retry_after=seconds)


def failed(store: Store, attempt: list[str]) -> None:
    """Count a failed attempt under each key; lock (and audit) a key that reached its limit."""
    now_ts = time.time()
    with store.transaction():
        for key in attempt:
            row = store.record_sign_in_failure(key, now_ts, FORGET_AFTER)
            rule = RULES[key.split(":", 1)[0]]
            if int(row["failures"]) >= rule.lock_at and float(row.get("locked_until") or 0) <= now_ts:
                store.lock_sign_in(key, now_ts + rule.lock_for)
                store.audit("sign-in", "lockout", "sign_in", None,
                            {"key": key, "failures": int(row["failures"]), "for_seconds": rule.lock_for})


def succeeded(store: Store, attempt: list[str]) -> None:
    """A successful sign-in clears its account's failures (the client's stay: it may be trying many names)."""
    store.clear_sign_in_failures(attempt[0])
