"""Matching core of techmatch: store, index, ranking, explanations and the service layer."""
