"""Experiment files (TOML) and resumable run directories: ``calbio run EXPERIMENT.toml``."""
