"""CAL, the paper's model: the estimator, its residual MLP module and its training recipes."""
