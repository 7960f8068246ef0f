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


# Records where the degree figure and the cluster member cells ended up on the page.
LAYOUT_PROBE = """<script>
window.addEventListener('load', () => {
  const img = document.getElementById('fig-quintiles-0');
  const r = img.getBoundingClientRect();
  const cells = [...document.querySelectorAll('td')].map(td => td.textContent)
    .filter(t => t.includes('MED'));
  const pre = document.createElement('pre');
  pre.id = 'calbio-layout';
  pre.textContent = JSON.stringify({
    fig: [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height,
          img.naturalWidth, img.naturalHeight],
    cells: cells,
  });
  document.body.appendChild(pre);
});
</script>"""


def _chromium(page, tmp_path, *extra):
    cmd = [
        BROWSER,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile2'}",
        "--window-size=1400,9000",
        "--force-device-scale-factor=1",
        "--virtual-time-budget=10000",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)


@pytest.mark.skipif(BROWSER is None, reason="no Chromium found (apt-get install chromium)")
def test_report_screenshot_degree_panels_and_member_lists(tmp_path):
    """Issue 14: the degree figure's right y-label must not run into the left panel, and
    cluster member lists must not be cut inside a symbol; checked on Chromium's rendering."""
    import numpy as np
    import pandas as pd
    from PIL import Image

    syn = make_synthetic(n_entities=120, dim=8, n_pairs=500, seed=2)
    res = evaluate(
        syn.embeddings, syn.pairs, epochs=1, hidden=8, batch_size=64, n_boot=20, rank=False
    )
    run = tmp_path / "run"
    res.save(run)
    members = [";".join(f"MED{13 + k}{'ABCDEFGH'[j % 8]}" for j in range(30)) for k in range(3)]
    cdir = run / "clusters"
    cdir.mkdir()
    pd.DataFrame({"cluster": [0, 1, 2], "size": [30, 30, 30], "members": members}).to_csv(
        cdir / "clusters.csv", index=False
    )
    out = tmp_path / "report.html"
    write_report(run, out)
    probe = tmp_path / "layout.html"
    probe.write_text(out.read_text().replace("</head>", LAYOUT_PROBE + "</head>", 1))

    dom = _chromium(probe, tmp_path, "--dump-dom")
    m = re.search(r'<pre id="calbio-layout">(.*?)</pre>', dom.stdout, re.S)
    assert m, f"layout probe did not run: {dom.stderr[-1500:]}"
    layout = json.loads(html.unescape(m.group(1)))
    all_members = {s for ms in members for s in ms.split(";")}
    assert len(layout["cells"]) == 3
    for cell in layout["cells"]:
        body, _, more = cell.partition(" … ")
        assert body.split() and set(body.split()) <= all_members, cell  # whole symbols only
        assert re.fullmatch(r"\(\+\d+ more\)", more), cell

    shot = tmp_path / "shot.png"
    run_shot = _chromium(probe, tmp_path, f"--screenshot={shot}")
    assert shot.is_file(), run_shot.stderr[-1500:]
    x, y, w, h, nat_w, nat_h = layout["fig"]
    assert w >= nat_w * 0.99  # shown at full size, not squeezed into overlapping text
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    crop = img[int(y + 0.12 * h) : int(y + h), int(x) : int(x + w)]
    assert crop.size and crop.min() < 100  # the figure is there (dark ink)
    # between the panels there is a blank gutter: a column of white pixels, over the whole
    # height below the title, in the middle third of the figure
    middle = crop[:, crop.shape[1] // 3 : 2 * crop.shape[1] // 3]
    assert (middle.min(axis=0) > 235).any(), "the right panel's labels touch the left panel"
