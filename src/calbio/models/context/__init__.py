"""The context model g(A, B | c): the estimator and its conditioned module."""
