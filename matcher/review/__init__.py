"""Brokers' work: the review queue, the pairing pipeline, 揭榜挂帅 challenges, batch runs and the operators' figures.

`from matcher import review` gives the functions of the queue, the pipeline and challenges under one name.
"""

from matcher.review.challenges import (
    applications_of,
    apply_challenge,
    list_applications,
    list_challenges,
    publish_challenge,
    review_application,
)
from matcher.review.pipeline import (
    FINAL_STAGES,
    STAGE_ORDER,
    due_pairings,
    get_pairing,
    list_pairings,
    move_pairing,
    next_stages,
    plan_pairing,
)
from matcher.review.queue import (
    DECISIONS,
    bulk_decide,
    bulk_reject,
    decide,
    get_candidate,
    last_review,
    list_candidates,
    list_reviews,
    undo,
)

__all__ = [
    "DECISIONS",
    "FINAL_STAGES",
    "STAGE_ORDER",
    "applications_of",
    "apply_challenge",
    "bulk_decide",
    "bulk_reject",
    "decide",
    "due_pairings",
    "get_candidate",
    "get_pairing",
    "last_review",
    "list_applications",
    "list_candidates",
    "list_challenges",
    "list_pairings",
    "list_reviews",
    "move_pairing",
    "next_stages",
    "plan_pairing",
    "publish_challenge",
    "review_application",
    "undo",
]
