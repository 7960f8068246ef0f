"""HTML report: self-contained (every figure embedded), verdict from the numbers, optional parts."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from calbio.analysis.enrichment import cluster_report, save_cluster_report
from calbio.cli.main import app
from calbio.core.errors import OutputExistsError
from calbio.data.genesets import read_gmt
from calbio.data.synthetic import make_synthetic
from calbio.evaluation.protocol import evaluate
from calbio.models.cal.estimator import CAL
from calbio.report.html import load_run, shorten_members, top_lift_pairs, verdict, write_report

IMG = re.compile(
    r'<img id="([^"]+)" class="figure" alt="[^"]*" src="data:image/png;base64,([^"]+)"'
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    syn = make_synthetic(n_entities=200, dim=16, n_pairs=900, seed=1)
    res = evaluate(
        syn.embeddings,
        syn.pairs,
        protocol="edge",
        epochs=2,
        hidden=16,
        batch_size=128,
        n_boot=30,
        rank=False,
    )
    d = tmp_path_factory.mktemp("run") / "edge"
    res.save(d)
    rng = np.random.default_rng(0)
    names = np.asarray(syn.embeddings.names)
    gmt = d.parent / "sets.gmt"
    gmt.write_text(
        "".join(
            f"S{j}\tset {j}\t" + "\t".join(rng.choice(names, 15, False)) + "\n" for j in range(40)
        )
    )
    rep = cluster_report(CAL.load(d / "model"), [read_gmt(gmt)], reps=3)
    save_cluster_report(rep, d / "clusters")
    return d


def embedded_images(page: str) -> dict[str, bytes]:
    return {m.group(1): base64.b64decode(m.group(2)) for m in IMG.finditer(page)}


def test_report_embeds_every_figure_and_loads_no_url(run_dir, tmp_path):
    out = tmp_path / "report.html"
    info = write_report(run_dir, out)
    page = out.read_text()
    imgs = embedded_images(page)
    # AUC bars, cosine bins, degree quintiles, loss curve, cluster classes
    assert {"fig-auc-0", "fig-bins-0", "fig-quintiles-0", "fig-loss", "fig-clusters"} <= set(imgs)
    assert len(imgs) == len(info["figures"]) == page.count("<img ")
    assert all(b.startswith(b"\x89PNG\r\n\x1a\n") and len(b) > 2000 for b in imgs.values())
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page and "<link" not in page
    assert "SYNTHETIC" in page and "Held-out pairs CAL lifts most" in page
    assert "association-specific" in page and "Background: the 200 entities" in page
    with pytest.raises(OutputExistsError):
        write_report(run_dir, out)


def test_model_directory_only_and_optional_parts(run_dir, tmp_path):
    out = tmp_path / "m.html"
    info = write_report(run_dir / "model", out)
    assert info["figures"] == ["loss"] and info["sections"] == []
    assert "No threshold or" in out.read_text()
    # runner directory: STEP/seedN evaluate runs, step JSONs (sweeps, doctor), a sweep CSV
    from calbio.analysis.sweep import cb_sensitivity

    runner = tmp_path / "runner"
    (runner / "edge").mkdir(parents=True)
    (runner / "edge" / "seed1").symlink_to(run_dir, target_is_directory=True)
    pd.DataFrame({"lambda": [0.0, 0.5, 1.0], "auc": [0.6, 0.7, 0.65]}).to_csv(
        runner / "extra_sweep.csv", index=False
    )
    scores = load_run(run_dir).sections[0].scores
    cb = cb_sensitivity([scores], (0.1, 0.2, 0.3))
    (runner / "cb.json").write_text(json.dumps({"name": "cb", "kind": "sweep", "result": cb}))
    lam = {
        "sweep": "lambda",
        "curves": [{"0.00": {"test_auc": 0.6, "val_auc": 0.61}, "1.00": {"test_auc": 0.7}}],
        "tables": [{"title": "Lambda table", "columns": ["lambda", "auc"], "rows": [["0", "1"]]}],
    }
    (runner / "lam.json").write_text(json.dumps({"kind": "sweep", "result": lam}))
    doc = {
        "tables": [
            {
                "title": "Doctor: checklist",
                "columns": ["check", "verdict"],
                "rows": [["hubs", "WARNING"]],
                "notes": ["histogram:\n###"],
            }
        ]
    }
    (runner / "doctor.json").write_text(json.dumps({"kind": "doctor", "result": doc}))
    info = write_report(runner, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert info["sections"] == ["edge/seed1"]
    assert {"sweep-0", "sweep-1", "sweep-2"} <= set(info["figures"])
    assert "cb (cb)" in page and "lam (lambda)" in page and "Lambda table" in page
    assert "Doctor verdicts" in page and "<h3>Doctor: checklist</h3>" in page
    assert "<td>WARNING</td>" in page


def test_verdict_sentences_follow_the_numbers():
    m = {
        "protocol": "edge",
        "cb_threshold": 0.2,
        "methods": {
            "cal": {"auc": 0.85, "cb_auc": 0.70, "auc_degree_matched": 0.70},
            "cosine": {"auc": 0.73, "cb_auc": 0.50, "auc_degree_matched": 0.72},
            "degree": {"auc": 0.80, "cb_auc": 0.78, "auc_degree_matched": 0.50},
            "adamic_adar": {"auc": 0.93, "cb_auc": 0.75},
        },
    }
    v = verdict(m)
    assert "CAL reaches AUC 0.85 and beats cosine similarity by 0.12 AUC" in v
    assert "Adamic-Adar does better (0.93)" in v
    assert "degree beats CAL (0.78 vs 0.70) - see the degree-matched AUC" in v
    assert "down from 0.85" in v
    m["validation"] = {"reactome": {"methods": {"cal": {"auc": 0.7}, "degree": {"auc": 0.75}}}}
    assert "independent reactome pairs CAL scores AUC 0.70, below the shortcut degree" in verdict(m)
    m["methods"]["adamic_adar"]["auc"] = 0.5
    m["methods"]["adamic_adar"]["cb_auc"] = 0.55
    m["methods"]["degree"]["cb_auc"] = 0.6
    v = verdict(m)
    assert "stays ahead of every shortcut" in v and "CAL scores 0.70 vs 0.60" in v


def test_top_lift_pairs_are_positives_ranked_by_lift(run_dir):
    run = load_run(run_dir)
    t = top_lift_pairs(run.sections[0].scores, top=5)
    lift = (t["cal_percentile"] - t["cosine_percentile"]).to_numpy()
    assert len(t) == 5 and np.all(np.diff(lift) <= 1e-12)


def test_cli_report_and_clusters(run_dir, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli.html"
    r = runner.invoke(app, ["report", str(run_dir), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "figures embedded" in r.output and out.is_file()
    r = runner.invoke(app, ["clusters", str(run_dir), "--out", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "c" / "clusters.csv").is_file()
    assert not (tmp_path / "c" / "table9.csv").exists()  # no gene sets given: no enrichment


def test_shorten_members_never_cuts_a_symbol():
    members = ";".join(f"MED{i}" for i in range(1, 40))
    short = shorten_members(members, limit=30)
    body, more = short.split(" … ")
    names = body.split(" ")
    assert all(n in members.split(";") for n in names)
    assert more == f"(+{39 - len(names)} more)"
    assert shorten_members("A;B") == "A B"
    assert shorten_members("VERYLONGSYMBOL", limit=4) == "VERYLONGSYMBOL"


def test_html_report_has_roc_and_cross_boundary_figures(result, tmp_path):
    from calbio.report.html import write_report

    run = tmp_path / "run"
    result.save(run)
    info = write_report(run, tmp_path / "r.html")
    assert {"roc-0", "cb-0", "quintiles-0", "loss"} <= set(info["figures"])
    frame = pd.read_csv(run / "test_scores.csv.gz")
    assert len(frame) == len(result.scores)
