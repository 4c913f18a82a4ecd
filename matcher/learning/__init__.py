"""Learning and measuring: the reranker trained on brokers' decisions, calibrated confidence, benchmark evaluation."""
