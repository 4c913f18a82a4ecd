"""Need clarification: tell a firm what its need lacks (with examples from the catalogue), suggest its cluster and
keywords, and turn a need into a research-topic draft (行业难题 → 科研课题).

    check_need(service, draft)          completeness 0..1, missing fields with prompts and examples, suggestions
    research_topic(service, need_id=…)  title, background, objectives, indicators, constraints, teams, markdown
"""

from matcher.clarify.check import check_need, suggest_cluster
from matcher.clarify.classifier import catalogue_cv, cross_validate
from matcher.clarify.completeness import INCOMPLETE_BELOW, WEIGHTS, score
from matcher.clarify.draft import Draft, as_draft
from matcher.clarify.keywords import suggest_keywords
from matcher.clarify.topic import research_topic

__all__ = ["INCOMPLETE_BELOW", "WEIGHTS", "Draft", "as_draft", "catalogue_cv", "check_need", "cross_validate",
           "research_topic", "score", "suggest_cluster", "suggest_keywords"]
