"""Feature extractors: map data tensors to the (N, D) vectors metrics compare."""
