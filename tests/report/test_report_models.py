"""Issue 19 §5: the HTML report knows every model of a run, not only CAL.

A three-model run (cal, sage, hybrid; tiny training) on synthetic data: the models table shows
what the saved models hold, every figure's legend names every model and shortcut, the summary
names the best model, verdicts are one grouped table, and the page renders in Chromium.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from calbio.data.synthetic import make_synthetic
from calbio.evaluation.protocol import evaluate
from calbio.models.persistence import load_model
from calbio.report.html import build_report, load_run, write_report
from calbio.report.plots import label
from calbio.report.summary import grouped_verdicts, normalize_verdicts, summary_rows

pytest.importorskip("torch_geometric")

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((b for b in BROWSERS if shutil.which(b)), None)
MODELS = ["cal", "sage", "hybrid"]


@pytest.fixture(scope="module")
def run3(tmp_path_factory):
    syn = make_synthetic(n_entities=150, dim=8, n_pairs=600, seed=3)
    res = evaluate(
        syn.embeddings,
        syn.pairs,
        model=MODELS,
        preset="fast",
        epochs=2,
        hidden=16,
        batch_size=64,
        n_boot=20,
        rank=True,
    )
    d = tmp_path_factory.mktemp("run3") / "run"
    res.save(d)
    return d


@pytest.fixture(scope="module")
def built(run3):
    return build_report(load_run(run3))


def _learned_parameters(model) -> int:
    """Counted from the loaded model's own objects, not from config.json."""
    if hasattr(model, "cal_"):  # hybrid: its CAL network plus the logistic combiners
        n = sum(p.numel() for p in model.cal_.module_.parameters())
        return n + sum(c["coef"].size + np.size(c["intercept"]) for c in model.combiners_.values())
    return sum(p.numel() for p in model.module_.parameters())


def test_models_table_shows_what_the_saved_models_hold(run3, built):
    run = load_run(run3)
    assert [m.name for m in run.models] == MODELS
    assert (run3 / "model").is_dir() and (run3 / "models" / "sage").is_dir()
    for info in run.models:
        model = load_model(info.path)
        n = _learned_parameters(model)
        assert info.n_parameters == n > 0
        assert info.preset == (model.preset if hasattr(model, "preset") else None)
        row = re.search(
            rf"<tr><td><b>{re.escape(label(info.name))}</b></td>(.*?)</tr>", built.html, re.S
        )
        assert row, info.name
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
        assert cells[0] == info.kind and cells[2] == f"{n:,}"
        assert cells[1] == (info.preset or "-")
        epochs = len(model.history_.loss) if info.name == "cal" else None
        if epochs is not None:
            assert cells[3] == str(epochs)
    assert "Preset None" not in built.html and ", 0 parameters" not in built.html


def test_every_figure_legend_names_every_model_and_shortcut(run3, built):
    metrics = json.loads((run3 / "metrics.json").read_text())
    names = [label(m) for m in metrics["models"] + metrics["shortcuts"]]
    assert len(names) >= 6
    legends = {f.id: " | ".join(f.legend) for f in built.figures}
    for fig_id in ("auc-0", "roc-0", "quintiles-0"):
        for name in names:
            assert re.search(rf"(^| \| ){re.escape(name)}( \(|$| \|)", legends[fig_id]), (
                fig_id,
                name,
                legends[fig_id],
            )
    # by-degree: the left panel draws every method, the right one every model against cosine
    deg = next(f for f in built.figures if f.id == "quintiles-0")
    assert deg.axes_legends[0] == names
    assert deg.axes_legends[1] == [label(m) for m in metrics["models"]]
    # the degree table shows counts, not dashes, and a column per method
    section = built.sections[0]
    table = section["degree_table"]
    assert {"n_pos"} <= set(table.columns) and set(names) <= set(table.columns)
    k = table.columns.index("n_pos")
    assert all(r[k].text.isdigit() for r in table.rows)


def test_summary_names_the_best_model_and_groups_verdicts(run3, built):
    metrics = json.loads((run3 / "metrics.json").read_text())
    aucs = {m: metrics["methods"][m]["auc"] for m in metrics["models"]}
    best = max(aucs, key=aucs.get)
    rows = summary_rows(metrics)
    assert rows[0]["where"] == "test" and rows[0]["model"] == best
    sc = {m: metrics["methods"][m]["auc"] for m in metrics["shortcuts"]}
    assert rows[0]["vs_shortcut"]["name"] == max(sc, key=sc.get)
    others = {m: v for m, v in aucs.items() if m != best}
    assert rows[0]["vs_model"]["name"] == max(others, key=others.get)
    page = built.html
    summary = page[page.index('class="summary"') : page.index("</div>")]
    assert f"<b>{label(best)}</b>" in summary
    assert f"Held-out pairs {label(best)} lifts most above cosine" in page
    # one verdict table, wins then ties then losses; no red warning lines outside <details>
    outcomes = re.findall(r'<td class="v-(wins|ties|loses)">', page.split("Verdicts:")[1])
    n = len(normalize_verdicts(metrics["verdicts"]))
    assert outcomes[:n] == sorted(outcomes[:n], key=["wins", "ties", "loses"].index)
    assert n and len(outcomes) >= n
    body = re.sub(r"<details>.*?</details>", "", page, flags=re.S)
    assert "SHORTCUT WINS" not in body


def _metrics_new_schema() -> dict:
    ci = {"cal": [0.80, 0.84], "sage": [0.70, 0.74], "degree": [0.60, 0.64]}
    return {
        "protocol": "edge",
        "models": ["cal", "sage"],
        "shortcuts": ["degree"],
        "methods": {
            m: {
                "auc": float(np.mean(c)),
                "auc_ci": c,
                "by_degree": {
                    "low": {
                        "n_pos": 11,
                        "n_neg": 55,
                        "degree_range": [0, 3],
                        "auc": "undefined",
                        "mrr": "undefined",
                    },
                    "high": {"n_pos": 12, "n_neg": 60, "degree_range": [4, 9], "auc": 0.7},
                },
            }
            for m, c in ci.items()
        },
        "verdicts": [
            {  # the recorded verdict, not the CIs, decides what the summary says
                "model": "cal",
                "metric": "auc",
                "label": "AUC",
                "where": "test",
                "against": "degree",
                "against_kind": "shortcut",
                "model_value": 0.82,
                "against_value": 0.62,
                "diff": 0.2,
                "diff_ci": [-0.01, 0.3],
                "verdict": "ties",
            },
            {
                "model": "sage",
                "metric": "auc",
                "label": "AUC",
                "where": "test",
                "against": "cal",
                "against_kind": "model",
                "model_value": 0.72,
                "against_value": 0.82,
                "diff": -0.1,
                "diff_ci": [-0.15, -0.05],
                "verdict": "loses",
            },
            {
                "model": "sage",
                "metric": "auc",
                "label": "AUC",
                "where": "test",
                "against": "degree",
                "against_kind": "shortcut",
                "model_value": 0.72,
                "against_value": 0.62,
                "diff": 0.1,
                "diff_ci": [0.05, 0.15],
                "verdict": "wins",
            },
        ],
    }


def test_new_verdict_schema_and_by_degree_counts(tmp_path):
    m = _metrics_new_schema()
    rows = summary_rows(m)
    assert rows[0]["model"] == "cal"
    assert rows[0]["vs_shortcut"] == {"name": "degree", "value": 0.62, "verdict": "ties"}
    assert rows[0]["vs_model"]["verdict"] == "wins"  # from the CIs: none recorded for cal
    assert [v["verdict"] for v in grouped_verdicts(m)] == ["wins", "ties", "loses"]
    (tmp_path / "metrics.json").write_text(json.dumps(m))
    built = build_report(load_run(tmp_path))
    assert "ties against degree (0.620)" in built.html
    assert "+0.200 [-0.010, +0.300]" in built.html  # difference with its CI
    t = built.sections[0]["degree_table"]
    assert t.columns[:4] == ["bin", "degrees", "n_pos", "n_neg"]
    assert [c.text for c in t.rows[0][:5]] == ["low", "0-3", "11", "55", "undefined"]
    assert "<td>-</td><td>-</td>" not in built.html


def test_old_verdict_schema_is_read_from_the_model_side():
    old = [
        {
            "model": "cal",
            "metric": "auc",
            "label": "AUC",
            "shortcut": "adamic_adar",
            "shortcut_value": 0.93,
            "model_value": 0.90,
            "verdict": "wins",  # the shortcut wins
            "where": "test",
        }
    ]
    (v,) = normalize_verdicts(old)
    assert v["verdict"] == "loses" and v["against"] == "adamic_adar"
    assert v["against_kind"] == "shortcut" and abs(v["diff"] + 0.03) < 1e-12


def test_page_is_autoescaped_and_transfer_hook_is_marked(tmp_path):
    m = _metrics_new_schema()
    m["warnings"] = ["<script>alert(1)</script>"]
    m["note"] = "a & b"
    (tmp_path / "metrics.json").write_text(json.dumps(m))
    (tmp_path / "transfer.json").write_text("{}")
    page = build_report(load_run(tmp_path)).html
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a &amp; b" in page
    assert "<h2>Transfer</h2>" in page


@pytest.mark.parametrize("content", ["{}", '{"methods": {}}', "[]", '{"protocol": "edge"}'])
def test_report_on_metrics_without_results_is_one_line_exit_2(tmp_path, cli, content):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(content)
    out = tmp_path / "r.html"
    code, stdout, err = cli(["report", run, "--out", out])
    assert code == 2, (stdout, err)
    assert "metrics.json" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_report_validate_with_needs_genesets(run3, tmp_path, cli):
    pairs = tmp_path / "v.csv"
    pairs.write_text("a,b\nx,y\n")
    out = tmp_path / "r.html"
    code, _, err = cli(["report", run3, "--out", out, "--validate-with", pairs])
    assert code == 2 and "--validate-with" in err and "--genesets" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


CHECK = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.querySelectorAll('img.figure')];
  const pre = document.createElement('pre');
  pre.id = 'calbio-check';
  pre.textContent = JSON.stringify({
    decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).map(i => i.id),
    height: document.body.scrollHeight,
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
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,2400",
        "--force-device-scale-factor=1",
        "--virtual-time-budget=10000",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)


@pytest.mark.skipif(BROWSER is None, reason="no Chromium found (apt-get install chromium)")
def test_three_model_report_screenshot(run3, tmp_path):
    from PIL import Image

    out = tmp_path / "report.html"
    info = write_report(run3, out)
    probe = tmp_path / "probe.html"
    probe.write_text(out.read_text().replace("</head>", CHECK + "</head>", 1))
    dom = _chromium(probe, tmp_path, "--dump-dom")
    m = re.search(r'<pre id="calbio-check">(.*?)</pre>', dom.stdout, re.S)
    assert m, dom.stderr[-1500:]
    seen = json.loads(html.unescape(m.group(1)))
    assert sorted(seen["decoded"]) == sorted(f"fig-{f}" for f in info["figures"])
    assert seen["height"] > 3000  # summary, tables, five figures, models
    shot = tmp_path / "shot.png"
    _chromium(out, tmp_path, f"--screenshot={shot}")
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape == (2400, 1200)
    # not blank: dark text and figure ink, and real variation across the page
    assert (img < 80).mean() > 0.005 and img.std() > 20
    # the summary box (green left border) is drawn near the top of the page
    rgb = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    green = (rgb[:800, :, 1] > 140) & (rgb[:800, :, 0] < 120) & (rgb[:800, :, 2] < 80)
    assert green.sum() > 200
