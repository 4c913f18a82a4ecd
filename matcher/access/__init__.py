"""Who may see and do what: principals (API keys and workbench users), roles and redaction of confidential needs."""

from matcher.access.policy import (
    CONFIDENTIAL_FIELDS,
    KEY_PREFIX,
    ORG_KIND,
    ROLES,
    Principal,
    authenticate,
    can_see_confidential,
    create_key,
    hash_key,
    need_view,
    redact_match,
    redact_need,
)

__all__ = ["CONFIDENTIAL_FIELDS", "KEY_PREFIX", "ORG_KIND", "ROLES", "Principal", "authenticate",
           "can_see_confidential", "create_key", "hash_key", "need_view", "redact_match", "redact_need"]
