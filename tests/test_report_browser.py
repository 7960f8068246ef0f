"""The HTML report renders in a real browser: headless Chromium, no console errors, all figures.

Skips with a reason when no Chromium binary is installed (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import pytest

from calbio.data.synthetic import make_synthetic
from calbio.evaluation.protocol import evaluate
from calbio.report.html import write_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((b for b in BROWSERS if shutil.which(b)), None)

# Injected into a copy of the report (the report itself carries no script): records script
# errors, failed resource loads and console.error calls, then writes what it saw into the DOM.
PROBE = """<script>
window.__errs = [];
window.addEventListener('error', e => {
  window.__errs.push(e.message || ('load failed: ' + (e.target && e.target.id)));
}, true);
const _err = console.error;
console.error = (...a) => { window.__errs.push(a.join(' ')); _err(...a); };
window.addEventListener('load', () => {
  const imgs = [...document.querySelectorAll('img.figure')];
  const res = {
    n: imgs.length,
    decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).map(i => i.id),
    sizes: imgs.map(i => [i.naturalWidth, i.naturalHeight]),
    errors: window.__errs,
  };
  const pre = document.createElement('pre');
  pre.id = 'calbio-check';
  pre.textContent = JSON.stringify(res);
  document.body.appendChild(pre);
});
</script>"""


@pytest.mark.skipif(BROWSER is None, reason="no Chromium found (apt-get install chromium)")
def test_report_renders_in_headless_chromium(tmp_path):
    syn = make_synthetic(n_entities=120, dim=8, n_pairs=500, seed=2)
    res = evaluate(
        syn.embeddings, syn.pairs, epochs=1, hidden=8, batch_size=64, n_boot=20, rank=False
    )
    run = tmp_path / "run"
    res.save(run)
    out = tmp_path / "report.html"
    info = write_report(run, out)
    page = out.read_text()
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</head>", PROBE + "</head>", 1))
    cmd = [
        BROWSER,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probe.as_uri(),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("headless Chromium did not finish within 120 s")
    m = re.search(r'<pre id="calbio-check">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"probe did not run; chromium rc={proc.returncode}, stderr: {proc.stderr[-2000:]}"
    result = json.loads(html.unescape(m.group(1)))
    assert result["errors"] == []
    # the report has no script of its own: any console line at all is a problem
    console_lines = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]
    assert console_lines == []
    expected = [f"fig-{f}" for f in info["figures"]]
    assert result["n"] == len(expected) >= 4
    assert sorted(result["decoded"]) == sorted(expected)
    assert all(w > 100 and h > 100 for w, h in result["sizes"])
