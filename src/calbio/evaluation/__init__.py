"""Evaluation: metrics, shortcut baselines and honest comparisons."""
