"""Who may see and do what: API keys bound to an organisation and a role, and redaction of confidential needs."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from matcher.errors import Invalid
from matcher.store import now

if TYPE_CHECKING:
    from matcher.store import Store

ROLES = ("firm", "institution", "broker", "admin")
ORG_KIND = {"firm": "firm", "institution": "institute", "broker": "broker", "admin": "broker"}
KEY_PREFIX = "tm_"
# fields of a confidential need that only its owner, brokers and admins may read (the deadline too: it sorts as
# hidden, so it is not shown either)
CONFIDENTIAL_FIELDS = ("description", "contact", "budget", "keywords", "challenge_goal", "challenge_indicators",
                       "reward", "deadline")
_EMPTY = {"keywords": [], "budget": None, "reward": None, "deadline": None}  # withheld values that are not text


@dataclass(frozen=True)
class Principal:
    """The caller behind an API key."""

    key_id: int  # the API key's id, or the user's id for a person signed in with a password
    role: str
    org_id: int
    org_name: str
    user: str | None = None  # the user name of a person signed in with a password

    @property
    def actor(self) -> str:
        """How the caller appears in the audit log."""
        if self.user:
            return f"{self.role}:{self.org_name}@{self.user}"
        return f"{self.role}:{self.org_name}#{self.key_id}"

    @property
    def privileged(self) -> bool:
        """Brokers and admins see everything."""
        return self.role in ("broker", "admin")


def hash_key(plain: str) -> str:
    """The stored form of a key (SHA-256; keys are long random tokens, so no salt is needed)."""
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def create_key(store: Store, role: str, org_name: str) -> tuple[str, dict[str, Any]]:
    """A new key for an organisation (created if absent); the plain key is returned once and never stored."""
    if role not in ROLES:
        raise Invalid(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    org_name = (org_name or "").strip()
    if not org_name or len(org_name) > 200:
        raise Invalid("the organisation name must be 1 to 200 characters")
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    with store.transaction():
        org_id = store.org_id(org_name, ORG_KIND[role])
        key_id = store.insert("api_keys", {"key_hash": hash_key(plain), "prefix": plain[:8], "org_id": org_id,
                                           "role": role, "created_at": now()})
        store.audit("cli", "create", "api_keys", key_id, {"role": role, "org": org_name})
    return plain, store.get("api_keys", key_id)


def authenticate(store: Store, plain: str) -> Principal | None:
    """The principal of a key, or None for an unknown or revoked key."""
    row = store.find("api_keys", key_hash=hash_key(plain))
    if row is None or row.get("revoked_at"):
        return None
    org = store.get("organisations", row["org_id"])
    return Principal(row["id"], row["role"], row["org_id"], org["name"])


def outsider_scope(viewer: Principal | bool | None) -> tuple[bool, int | None]:
    """(may this caller not read confidential needs?, the organisation whose own needs it may read). True stands
    for an insider without a key (the CLI, an operator's script)."""
    if viewer is True:
        return False, None
    if viewer is None or viewer is False:
        return True, None
    return (not viewer.privileged), viewer.org_id


def can_see_confidential(principal: Principal | None, need: dict[str, Any]) -> bool:
    """Whether the caller may read a need's confidential fields (public needs: always)."""
    if need.get("confidentiality") != "brokers":
        return True
    if principal is None:
        return False
    return principal.privileged or principal.org_id == need.get("org_id")


def redact_need(need: dict[str, Any], industry_name: str = "") -> dict[str, Any]:
    """A confidential need as outsiders see it: title and structured fields, no text, contact or budget."""
    out = dict(need)
    for key in CONFIDENTIAL_FIELDS:
        out[key] = _EMPTY.get(key, "")
    out["description"] = f"保密需求：{industry_name or '该'}领域技术需求，详情仅对需求方与技术经纪人开放。"
    out["org_id"] = None  # who posted it is withheld too: the organisation's public record would name its contact
    out["budget_negotiable"] = True
    out["redacted"] = True
    return out


def need_view(need: dict[str, Any], principal: Principal | None, industry_name: str = "") -> dict[str, Any]:
    """A need as this caller may see it."""
    if can_see_confidential(principal, need):
        return {**need, "redacted": False}
    return redact_need(need, industry_name)


def redact_match(match: dict[str, Any], principal: Principal | None, query_need: dict[str, Any] | None,
                 industry_name: str = "") -> dict[str, Any]:
    """A match as this caller may see it: a confidential need's text never reaches outsiders, neither as the
    item nor through the explanation (shared terms and best sentence are drawn from both texts)."""
    out = dict(match)
    hidden = False
    if match.get("side") == "needs":
        item = match["item"]
        if not can_see_confidential(principal, item):
            out["item"] = redact_need(item, industry_name)
            hidden = True
        else:
            out["item"] = {**item, "redacted": False}
    else:
        out["item"] = {**match["item"], "redacted": False}
    if query_need is not None and not can_see_confidential(principal, query_need):
        hidden = True
    if hidden:
        ex = dict(match.get("explanation") or {})
        ex["shared_terms"] = []
        ex["best_sentence"] = ""
        fits = ex.get("fits")
        ex["summary"] = "保密需求：匹配依据仅对需求方与技术经纪人开放"
        if fits:
            same = fits["industry_match"]
            ex["summary"] += f"；同属{fits['industry']}" if same else f"；跨行业（{fits['industry']}）"
        out["explanation"] = ex
    return out
