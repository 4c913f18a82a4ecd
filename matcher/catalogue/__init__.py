"""The live catalogue: each process's FAISS and BM25 indexes, derived from the store and following its change log."""

from matcher.catalogue.live import MODELS_SIDE, Follower, Keeper, LiveCatalogue, process_token

__all__ = ["MODELS_SIDE", "Follower", "Keeper", "LiveCatalogue", "process_token"]
