"""The catalogue's schema: its tables and the versioned migrations that create them (one per schema version).

A migration is a function of a DDL writer, which each backend implements (sqlite-utils for SQLite, plain DDL for
PostgreSQL), so both backends run the same migrations; the store applies those a database has not seen yet, each in
its own transaction, and records the version.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

JSON_COLUMNS = {"coop_modes", "keywords", "transfer_modes", "components", "explanation", "detail", "figures",
                "filters", "payload"}
LISTING_TABLES = ("needs", "results")
# the statuses in which a listing can still be paired: an open need, a result not yet transferred or withdrawn
AVAILABLE = {"needs": ["open"], "results": ["listed", "negotiating"]}
TABLES = (
    "organisations", "needs", "results", "candidates", "reviews", "pairings",
    "challenge_applications", "api_keys", "batch_runs", "audit_log", "conflicts", "assignment_rounds",
    "assignments", "subscriptions", "alerts", "deliveries", "sign_in_failures",
)


def now() -> str:
    """UTC timestamp in ISO 8601 with microseconds (they order writes within one second)."""
    return dt.datetime.now(dt.timezone.utc).isoformat()


class TableDDL(Protocol):
    """One table of a DDL writer (the subset of sqlite-utils' Table the migrations use)."""

    def create(self, columns: dict[str, type], pk: str = "id", not_null: set[str] | None = None,
               foreign_keys: Sequence[tuple[str, str, str]] = ()) -> Any: ...

    def create_index(self, columns: list[str], unique: bool = False) -> Any: ...

    def add_column(self, name: str, kind: type) -> Any: ...


class DDL(Protocol):
    """What a migration writes through: tables, indexes, the change log and catalogue facts."""

    def __getitem__(self, table: str) -> TableDDL: ...

    def create_change_log(self, sides: Sequence[str]) -> None:
        """The `changes` table and the triggers that append every listing write to it, in commit order."""

    def set_meta(self, key: str, value: str) -> None:
        """Record a fact about the catalogue (its id)."""


def _v1(db: DDL) -> None:
    db["organisations"].create({
        "id": int, "name": str, "kind": str, "district": str, "industry": str, "contact": str,
        "description": str, "created_at": str, "updated_at": str,
    }, pk="id", not_null={"name", "kind"})
    db["organisations"].create_index(["name"], unique=True)
    db["needs"].create({
        "id": int, "ref": str, "title": str, "description": str, "org_id": int, "industry": str,
        "district": str, "coop_modes": str, "budget": float, "budget_negotiable": int, "deadline": str,
        "wanted_trl_min": int, "wanted_trl_max": int, "keywords": str, "confidentiality": str,
        "status": str, "is_challenge": int, "reward": float, "challenge_goal": str,
        "challenge_indicators": str, "contact": str, "posted_at": str, "created_at": str, "updated_at": str,
    }, pk="id", not_null={"title", "industry", "status", "confidentiality"},
        foreign_keys=[("org_id", "organisations", "id")])
    db["results"].create({
        "id": int, "ref": str, "title": str, "abstract": str, "org_id": int, "team": str, "contact": str,
        "industry": str, "district": str, "trl": int, "maturity_label": str, "ip_type": str,
        "patent_no": str, "transfer_modes": str, "price": float, "price_negotiable": int,
        "application_fields": str, "keywords": str, "status": str, "posted_at": str,
        "created_at": str, "updated_at": str,
    }, pk="id", not_null={"title", "industry", "status", "trl"},
        foreign_keys=[("org_id", "organisations", "id")])
    for table in LISTING_TABLES:
        db[table].create_index(["ref"], unique=True)
        db[table].create_index(["industry"])
        db[table].create_index(["status"])
    db["batch_runs"].create({
        "id": int, "status": str, "method": str, "top_k": int, "needs_total": int, "needs_done": int,
        "candidates": int, "error": str, "figures": str, "started_at": str, "finished_at": str, "actor": str,
    }, pk="id")
    db["candidates"].create({
        "id": int, "run_id": int, "need_id": int, "result_id": int, "rank": int, "score": float,
        "confidence": float, "method": str, "components": str, "explanation": str, "status": str,
        "created_at": str, "updated_at": str,
    }, pk="id", foreign_keys=[("need_id", "needs", "id"), ("result_id", "results", "id"),
                              ("run_id", "batch_runs", "id")])
    db["candidates"].create_index(["need_id", "result_id"], unique=True)
    db["candidates"].create_index(["status"])
    db["reviews"].create({
        "id": int, "candidate_id": int, "decision": str, "reason_code": str, "note": str, "actor": str,
        "created_at": str,
    }, pk="id", foreign_keys=[("candidate_id", "candidates", "id")])
    db["pairings"].create({
        "id": int, "candidate_id": int, "need_id": int, "result_id": int, "stage": str,
        "contract_value": float, "notes": str, "signed_at": str, "created_at": str, "updated_at": str,
    }, pk="id", foreign_keys=[("candidate_id", "candidates", "id"), ("need_id", "needs", "id"),
                              ("result_id", "results", "id")])
    db["pairings"].create_index(["candidate_id"], unique=True)
    db["challenge_applications"].create({
        "id": int, "need_id": int, "org_id": int, "result_id": int, "team": str, "proposal": str,
        "status": str, "created_at": str, "updated_at": str,
    }, pk="id", foreign_keys=[("need_id", "needs", "id"), ("org_id", "organisations", "id")])
    db["api_keys"].create({
        "id": int, "key_hash": str, "prefix": str, "org_id": int, "role": str, "created_at": str,
        "revoked_at": str,
    }, pk="id", foreign_keys=[("org_id", "organisations", "id")])
    db["api_keys"].create_index(["key_hash"], unique=True)
    db["audit_log"].create({
        "id": int, "at": str, "actor": str, "action": str, "entity": str, "entity_id": int, "detail": str,
    }, pk="id")
    db["audit_log"].create_index(["entity", "entity_id"])


def _v2(db: DDL) -> None:
    """The change log (every committed listing write, appended by triggers in the writing transaction), named
    locks shared by every process on the database, and workbench users who sign in with a password."""
    db.create_change_log(LISTING_TABLES)
    db["locks"].create({"name": str, "owner": str, "expires_at": float, "acquired_at": str}, pk="name")
    db["users"].create({
        "id": int, "name": str, "password_hash": str, "org_id": int, "role": str, "created_at": str,
        "revoked_at": str,
    }, pk="id", foreign_keys=[("org_id", "organisations", "id")])
    db["users"].create_index(["name"], unique=True)


def _v3(db: DDL) -> None:
    """Facts about the catalogue: a random id, so an index snapshot is never applied to another catalogue."""
    db["meta"].create({"key": str, "value": str}, pk="key")
    db.set_meta("catalogue_id", uuid.uuid4().hex)


def _v4(db: DDL) -> None:
    """Which engine ran a batch (in process, or Ray)."""
    db["batch_runs"].add_column("engine", str)


def _v5(db: DDL) -> None:
    """A pairing's next action: what the broker does next, and by when (the pipeline lists what is due)."""
    db["pairings"].add_column("next_action", str)
    db["pairings"].add_column("next_action_at", str)


def _v6(db: DDL) -> None:
    """Global assignment: organisation pairs never to be proposed to each other (conflicts of interest), and the
    assignment rounds with the pairs each proposed."""
    db["conflicts"].create({
        "id": int, "org_a": int, "org_b": int, "reason": str, "actor": str, "created_at": str,
    }, pk="id", not_null={"org_a", "org_b"},
        foreign_keys=[("org_a", "organisations", "id"), ("org_b", "organisations", "id")])
    db["conflicts"].create_index(["org_a", "org_b"], unique=True)
    db["assignment_rounds"].create({
        "id": int, "per_need": int, "capacity": int, "org_capacity": int, "min_confidence": float,
        "figures": str, "actor": str, "created_at": str,
    }, pk="id")
    db["assignments"].create({
        "id": int, "round_id": int, "need_id": int, "result_id": int, "candidate_id": int, "score": float,
        "confidence": float,
    }, pk="id", foreign_keys=[("round_id", "assignment_rounds", "id"), ("need_id", "needs", "id"),
                              ("result_id", "results", "id"), ("candidate_id", "candidates", "id")])
    db["assignments"].create_index(["round_id", "need_id"])
    db["assignments"].create_index(["candidate_id"])


def _v7(db: DDL) -> None:
    """Alerts: subscriptions (to new counterparts of one's own listings, or to a saved search), the alerts they
    earned (an outbox: one per subscription and pair, ever) and their webhook deliveries (retried, dead-lettered)."""
    db["subscriptions"].create({
        "id": int, "org_id": int, "role": str, "actor": str, "name": str, "kind": str, "side": str, "query": str,
        "filters": str, "min_confidence": float, "webhook_url": str, "secret": str, "feed_token": str,
        "since_seq": int, "created_at": str,
    }, pk="id", not_null={"org_id", "role", "kind", "side"}, foreign_keys=[("org_id", "organisations", "id")])
    db["subscriptions"].create_index(["org_id"])
    db["subscriptions"].create_index(["feed_token"], unique=True)
    db["alerts"].create({
        "id": int, "subscription_id": int, "side": str, "listing_id": int, "counterpart_id": int,
        "confidence": float, "payload": str, "created_at": str,
    }, pk="id", not_null={"subscription_id", "side", "listing_id", "counterpart_id"},
        foreign_keys=[("subscription_id", "subscriptions", "id")])
    db["alerts"].create_index(["subscription_id", "side", "listing_id", "counterpart_id"], unique=True)
    db["deliveries"].create({
        "id": int, "alert_id": int, "subscription_id": int, "status": str, "attempts": int,
        "next_attempt_at": float, "claimed_by": str, "claimed_until": float, "last_status": int, "last_error": str,
        "delivered_at": str, "created_at": str, "updated_at": str,
    }, pk="id", not_null={"alert_id", "subscription_id", "status"},
        foreign_keys=[("alert_id", "alerts", "id"), ("subscription_id", "subscriptions", "id")])
    db["deliveries"].create_index(["status", "next_attempt_at"])
    db["deliveries"].create_index(["subscription_id"])


def _v8(db: DDL) -> None:
    """Sign-in throttling: failed password (and key) sign-ins per account name and per client, with the lockout
    they earned, shared by every process."""
    db["sign_in_failures"].create({
        "id": int, "key": str, "failures": int, "last_at": float, "locked_until": float,
    }, pk="id", not_null={"key", "failures"})
    db["sign_in_failures"].create_index(["key"], unique=True)


MIGRATIONS: list[Callable[[DDL], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8]
