"""core.logs: verbosity, logging set-up, and progress as log lines or a bar."""

from __future__ import annotations

import io
import logging

import pytest

import calbio
from calbio.core.errors import CalbioInputError
from calbio.core.logs import LogProgress, setup_logging, training_progress, verbosity_level


def test_verbosity_and_setup_logging():
    assert verbosity_level() == logging.INFO
    assert verbosity_level(quiet=True) == logging.WARNING
    assert verbosity_level(verbose=True) == logging.DEBUG
    with pytest.raises(CalbioInputError):
        verbosity_level(True, True)
    buf = io.StringIO()
    setup_logging("info", stream=buf)
    setup_logging(logging.INFO, stream=buf)  # idempotent: one handler
    logging.getLogger("calbio.test").info("hello")
    assert buf.getvalue().count("hello") == 1


def test_log_progress_periodic_lines():
    buf = io.StringIO()
    setup_logging(logging.INFO, stream=buf)
    prog = LogProgress(every_s=3600)
    for e in range(1, 21):
        prog(e, 20, 1.0 / e)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2  # first and last epoch only within the period
    assert "epoch 1/20" in lines[0] and "epoch 20/20 loss 0.0500" in lines[1]
    assert "None" not in buf.getvalue() and "nan" not in buf.getvalue()


def test_training_progress_terminal_and_pipe():
    from rich.console import Console

    setup_logging(logging.INFO, stream=io.StringIO())
    pipe = Console(file=io.StringIO(), force_terminal=False)
    with training_progress(console=pipe) as cb:
        assert isinstance(cb, LogProgress)
    term_buf = io.StringIO()
    term = Console(file=term_buf, force_terminal=True, width=100)
    with training_progress(console=term) as cb:
        assert term_buf.getvalue() == ""  # nothing drawn before the first epoch
        cb(1, 4, 2.5)
        cb(4, 4, 1.25)
    out = term_buf.getvalue()
    assert "None" not in out and "nan" not in out and "epoch 4/4" in out
    with training_progress(quiet=True) as cb:
        assert cb is None
    setup_logging(logging.WARNING, stream=io.StringIO())
    with training_progress(console=term) as cb:
        assert cb is None


def test_fit_with_log_progress_reports_real_epochs(synthetic, tiny):
    buf = io.StringIO()
    setup_logging(logging.INFO, stream=buf)
    model = calbio.CAL("fast", random_state=0, **tiny)
    model.fit(synthetic.embeddings, synthetic.pairs, progress=LogProgress(every_s=0))
    lines = [ln for ln in buf.getvalue().splitlines() if "training epoch" in ln]
    assert len(lines) == tiny["epochs"] and f"epoch 3/{tiny['epochs']}" in lines[-1]
