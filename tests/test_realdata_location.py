"""Every real-data test finds the data through conftest (issue 19 section 6).

Real-data tests reach the data only through the ``shared_data`` / ``shared_file`` fixtures, so
``CALBIO_DATA`` decides for all of them where the data is. Pointing it at an empty folder must
therefore skip every one of them (none may find data elsewhere, e.g. a hard-coded
``../shared/data``), and each skip must say which variable to set.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_every_realdata_test_skips_naming_calbio_data_when_it_points_elsewhere(tmp_path) -> None:
    files = sorted(
        str(p.relative_to(TESTS))
        for p in TESTS.rglob("test_*.py")
        if "pytest.mark.realdata" in p.read_text()
    )
    assert len(files) >= 9
    env = {**os.environ, "CALBIO_DATA": str(tmp_path)}  # an empty folder: no data there
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-m", "realdata"]
    proc = subprocess.run(
        [*cmd, *files], cwd=TESTS, env=env, capture_output=True, text=True, timeout=600
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    summary = out.strip().splitlines()[-1]
    assert "skipped" in summary and "passed" not in summary and "failed" not in summary, out[-3000:]
    reasons = re.findall(r"^SKIPPED \[\d+\] \S+: (.*)$", out, re.M)
    assert reasons, out[-3000:]
    assert all("CALBIO_DATA" in r for r in reasons), reasons


def test_shared_data_fixture_honours_calbio_data(tmp_path):
    import subprocess
    import sys

    here = str(Path(__file__).resolve().parent)  # tests/, where conftest.py is
    code = f"import sys; sys.path.insert(0, {here!r}); import conftest; print(conftest.SHARED)"
    env = {"CALBIO_DATA": str(tmp_path), "PATH": "", "PYTHONPATH": ":".join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == str(tmp_path), out.stderr[-500:]
