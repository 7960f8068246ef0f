"""Training: negatives, contrastive losses and the optimisation loop."""
