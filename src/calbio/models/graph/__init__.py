"""Models that read the training graph: neighbourhood heuristics and GraphSAGE."""
