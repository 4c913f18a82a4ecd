"""Brokers' work: the review queue, the pairing pipeline, 揭榜挂帅 challenges, batch runs, assignment rounds, the
candidate feed, exports and the operators' figures — each a service of the app (`app.queue`, `app.pipeline`, …)."""

from matcher.review.assignments import Assignments
from matcher.review.batches import Batches
from matcher.review.challenges import Challenges
from matcher.review.exports import Exports
from matcher.review.feed import CandidateFeed
from matcher.review.figures import Figures
from matcher.review.pipeline import FINAL_STAGES, STAGE_ORDER, Pipeline, next_stages
from matcher.review.queue import DECISIONS, ReviewQueue

__all__ = ["DECISIONS", "FINAL_STAGES", "STAGE_ORDER", "Assignments", "Batches", "CandidateFeed", "Challenges",
           "Exports", "Figures", "Pipeline", "ReviewQueue", "next_stages"]
