"""Who may sign in: API keys (for programs and people) and workbench users with a password an admin sets.

Keys are long random tokens stored as SHA-256 hashes; passwords are stored as salted scrypt hashes. Every sign-in
is checked against the store again on each request or page run, so a revoked key or user is out at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from matcher.access import policy as access
from matcher.access import throttle
from matcher.access.policy import ORG_KIND, ROLES, Principal
from matcher.errors import Conflict, Invalid, NotFound
from matcher.store import Store, now

SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MIN_PASSWORD = 10


def _hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **SCRYPT, dklen=32)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def _verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        fresh = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                               dklen=len(bytes.fromhex(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(fresh.hex(), digest)


def public_user(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "password_hash"}


class Accounts:
    """Workbench users and API keys: created, revoked, signed in (throttled)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create_key(self, role: str, org: str) -> tuple[str, dict[str, Any]]:
        """A new API key for an organisation (created if absent); the plain key is returned once, never stored."""
        return access.create_key(self.store, role, org)

    def list_keys(self) -> list[dict[str, Any]]:
        """Every key with its organisation's name (hashes left out)."""
        return [{k: v for k, v in row.items() if k != "key_hash"} for row in self.store.keys_with_orgs()]

    def revoke_key(self, key_id: int, actor: str = "cli") -> None:
        """Revoke a key: every request and workbench session using it is refused from now on."""
        with self.store.transaction():
            self.store.update("api_keys", key_id, {"revoked_at": now()})
            self.store.audit(actor, "revoke", "api_keys", key_id)

    def authenticate_key(self, plain: str) -> Principal | None:
        """The principal of an API key, or None for an unknown or revoked one."""
        return access.authenticate(self.store, plain)

    def create_user(self, name: str, password: str, role: str, org: str,
                    actor: str = "cli") -> dict[str, Any]:
        """A workbench user who signs in with a password (an admin sets it; stored as a salted scrypt hash)."""
        name = (name or "").strip()
        if not 1 <= len(name) <= 50:
            raise Invalid("the user name must be 1 to 50 characters")
        if role not in ROLES:
            raise Invalid(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        if len(password or "") < MIN_PASSWORD:
            raise Invalid(f"the password must be at least {MIN_PASSWORD} characters")
        org = (org or "").strip()
        if not org or len(org) > 200:
            raise Invalid("the organisation name must be 1 to 200 characters")
        store = self.store
        with store.transaction():
            if store.find("users", name=name):
                raise Conflict(f"a user called {name!r} exists already")
            org_id = store.org_id(org, ORG_KIND[role])
            user_id = store.insert("users", {"name": name, "password_hash": _hash_password(password), "org_id": org_id,
                                             "role": role, "created_at": now()})
            store.audit(actor, "create", "users", user_id, {"name": name, "role": role, "org": org})
        return public_user(store.get("users", user_id))

    def revoke_user(self, name: str, actor: str = "cli") -> None:
        """Revoke a user: their workbench session ends at its next page run."""
        row = self.store.find("users", name=name)
        if row is None:
            raise NotFound(f"no user called {name!r}")
        with self.store.transaction():
            self.store.update("users", row["id"], {"revoked_at": now()})
            self.store.audit(actor, "revoke", "users", row["id"], {"name": name})

    def sign_in(self, name: str, password: str, client: str | None = None) -> Principal | None:
        """The principal of a user name and password, or None (unknown user, wrong password or revoked). Throttled per
        account name and per `client` (see throttle.py): after repeated failures an attempt is refused with Throttled
        before the password is checked, whether or not the account exists."""
        store = self.store
        attempt = throttle.keys(name, client)
        throttle.check(store, attempt)
        row = store.find("users", name=(name or "").strip())
        if row is None:
            _hash_password(password or "", b"0" * 16)  # spend the same time whether the name exists or not
            throttle.failed(store, attempt)
            return None
        matches = _verify_password(password or "", row["password_hash"])  # always hashed: no timing tells revoked
        if row.get("revoked_at") or not matches:
            throttle.failed(store, attempt)
            return None
        throttle.succeeded(store, attempt)
        org = store.get("organisations", row["org_id"])
        return Principal(row["id"], row["role"], row["org_id"], org["name"], user=row["name"])

    def sign_in_with_key(self, plain: str, client: str | None = None) -> Principal | None:
        """The principal of an API key typed into a sign-in form, or None; failures are throttled per client (a key is
        too long to guess, but a form that answers every guess at once invites trying)."""
        attempt = throttle.keys("", client)[1:]  # the client's key alone (none: nothing to throttle by)
        if attempt:
            throttle.check(self.store, attempt)
        who = access.authenticate(self.store, (plain or "").strip()) if (plain or "").strip() else None
        if who is None and attempt:
            throttle.failed(self.store, attempt)
        return who

    def still_valid(self, principal: Principal) -> bool:
        """Whether a signed-in principal's key or user has not been revoked since (checked on every page run)."""
        table = "users" if principal.user else "api_keys"
        try:
            row = self.store.get(table, principal.key_id)
        except NotFound:
            return False
        return not row.get("revoked_at") and row["role"] == principal.role
