"""Retrieval: the text a listing is indexed by, FAISS and BM25 indexes, hubness, fusion and ranking by method."""
