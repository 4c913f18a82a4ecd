"""Matching: ranking a listing or a text against the other side, boosts, confidence, reranking, explanations."""
