"""Model: the residual MLP module, presets and the sklearn-style CAL estimator."""
