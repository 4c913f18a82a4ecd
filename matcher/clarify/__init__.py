"""Need clarification: tell a firm what its need lacks (with examples from the catalogue), suggest its cluster and
keywords, and turn a need into a research-topic draft (行业难题 → 科研课题).

    app.clarification.check_need(draft)         completeness 0..1, missing fields with prompts and examples
    app.topics.research_topic(need_id=…)        title, background, objectives, indicators, constraints, markdown
"""

from matcher.clarify.check import Clarification
from matcher.clarify.classifier import Clusters, cross_validate
from matcher.clarify.completeness import INCOMPLETE_BELOW, WEIGHTS, score
from matcher.clarify.draft import Draft, as_draft
from matcher.clarify.examples import Examples
from matcher.clarify.keywords import suggest_keywords
from matcher.clarify.topic import ResearchTopics

__all__ = ["INCOMPLETE_BELOW", "WEIGHTS", "Clarification", "Clusters", "Draft", "Examples", "ResearchTopics",
           "as_draft", "cross_validate", "score", "suggest_keywords"]
