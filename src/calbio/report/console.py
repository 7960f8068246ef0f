"""Readable console tables of evaluation metrics and of the verdicts against rivals."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

COLUMNS = [
    ("auc", "AUC"),
    ("auc_ci", "CI95"),
    ("cb_auc", "CB AUC"),
    ("auc_degree_matched", "degAUC"),
    ("mrr", "MRR"),
    ("hits@10", "Hits@10"),
]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return "-".join(f"{float(v):.2f}" for v in value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "nan" if v != v else f"{v:.3f}"


def methods_table(
    methods: dict[str, dict[str, Any]], title: str, chosen: tuple[str, ...] = ("cal",)
) -> Table:
    """A rich table: one row per method, the best value per column in bold."""
    table = Table(title=title, title_justify="left", header_style="bold", padding=(0, 1))
    table.add_column("method")
    keys = [(k, h) for k, h in COLUMNS if any(k in m for m in methods.values())]
    for _, header in keys:
        table.add_column(header, justify="right")
    best = {}
    for k, _ in keys:
        vals = [m.get(k) for m in methods.values()]
        nums = [v for v in vals if isinstance(v, int | float) and v == v]
        best[k] = max(nums) if nums else None
    for name, m in methods.items():
        cells = []
        for k, _ in keys:
            s = _fmt(m.get(k))
            bold = best.get(k) is not None and m.get(k) == best[k]
            cells.append(Text(s, style="bold") if bold else s)
        table.add_row(Text(name, style="bold cyan") if name in chosen else name, *cells)
    return table


def print_evaluation(result: dict[str, Any], console: Console | None = None) -> None:
    """Print an evaluation (``EvaluationResult.to_dict()``) as tables plus warnings."""
    console = console or Console()
    proto = result["protocol"]
    synthetic = result.get("data", {}).get("synthetic")
    head = (
        f"protocol [bold]{proto}[/bold] | seed {result['seed']} | {result['n_entities']:,} "
        f"entities | {result['n_train_pairs']:,} train / {result['n_test_pairs']:,} test pairs | "
        f"{result['n_negatives']:,} negatives (+{result['n_negatives_degree_matched']:,} "
        f"degree-matched) | CB |cos| < {result['cb_threshold']}"
    )
    if synthetic:
        console.print("[bold magenta]SYNTHETIC DATA[/bold magenta] (calbio's demo generator)")
    console.print(head)
    mp = result.get("data", {}).get("mapping", {})
    if mp.get("n_input"):
        console.print(
            f"pairs mapped onto the table: {mp.get('n_mapped', 0):,} of {mp['n_input']:,} "
            f"({100 * mp.get('fraction_mapped', 0):.1f}%) onto "
            f"{mp.get('n_entities_mapped', 0):,} entities, "
            f"{mp.get('n_case_insensitive_ids', 0):,} ids matched case-insensitively"
        )
    if result.get("note"):
        console.print(f"[bold yellow]{result['note']}[/bold yellow]")
    chosen = tuple(result.get("models", ["cal"]))
    console.print(methods_table(result["methods"], f"Held-out metrics ({proto})", chosen))
    for stem, v in result.get("validation", {}).items():
        if v.get("note") or not v.get("methods"):  # nothing scored: say why
            console.print(
                f"[bold yellow]Validation: {stem}: {v.get('note', 'not scored')} "
                f"({v.get('n_removed_in_main_pairs', 0):,} removed)[/bold yellow]"
            )
            continue
        cold = v.get("cold_start")
        kind = "" if cold is None else (" cold start" if cold else " warm")
        console.print(
            methods_table(
                v["methods"],
                f"Validation: {stem} ({v['n_pairs']:,}{kind} pairs absent from the main file)",
                chosen,
            )
        )
    console.print(
        "CI95: bootstrap 95% CI of AUC; CB: cross-boundary pairs only; degAUC: against "
        "degree-matched negatives; MRR/Hits: filtered rank of each held-out partner "
        "(AP and Hits@50 are in metrics.json)",
        style="dim",
    )
    verdicts = result.get("verdicts") or []
    if verdicts and "against" in verdicts[0]:
        console.print(verdicts_table(verdicts))
    else:  # an older metrics.json: its warning lines
        for w in result.get("warnings", []):
            console.print(f"[bold red]{w}[/bold red]")


_VERDICT_STYLE = {"wins": "green", "ties": "yellow", "loses": "bold red"}


def verdicts_table(verdicts: list[dict[str, Any]], title: str = "Verdicts") -> Table:
    """Paired verdicts grouped as wins, ties, losses: one sentence each with the difference CI."""
    from calbio.evaluation.verdicts import verdict_sentence

    table = Table(
        title=f"{title} (95% paired-bootstrap CI of each difference; against the best shortcut "
        "and the best other model)",
        title_justify="left",
        header_style="bold",
        padding=(0, 1),
    )
    table.add_column("outcome")
    table.add_column("against")
    table.add_column("verdict")
    for outcome in ("wins", "ties", "loses"):
        for v in (v for v in verdicts if v["verdict"] == outcome):
            table.add_row(
                Text(outcome, style=_VERDICT_STYLE[outcome]),
                v["against_kind"],
                verdict_sentence(v),
            )
    return table


def evaluation_repr(result: Any) -> str:
    """A short AnnData-style repr of an ``EvaluationResult``: sizes, AUC per method, keys.

    (``EvaluationResult.__repr__`` can delegate here instead of printing every metric.)
    """
    d = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    methods = d.get("methods", {})
    aucs = ", ".join(f"{m} {_fmt(v.get('auc'))}" for m, v in methods.items() if isinstance(v, dict))
    lines = [
        f"EvaluationResult ({d.get('protocol', '?')} protocol, seed {d.get('seed')}) with "
        f"n_train x n_test pairs = {d.get('n_train_pairs', 0):,} x {d.get('n_test_pairs', 0):,}"
        f" over {d.get('n_entities', 0):,} entities",
        f"    AUC: {aucs or '-'}",
    ]
    if d.get("validation"):
        lines.append("    validation: " + ", ".join(repr(k) for k in d["validation"]))
    if d.get("warnings"):
        lines.append(f"    warnings: {len(d['warnings'])} (see .warnings)")
    scores = getattr(result, "scores", None)
    if scores is not None:
        lines.append(
            f"    scores: {len(scores):,} rows ({', '.join(map(str, scores.columns[:6]))}, ...)"
        )
    return "\n".join(lines)


def transfer_table(result: dict[str, Any], metric: str) -> Table:
    """Train (rows, per method) x test (columns) values of one metric; diagonal = held-out."""
    files, methods = result["files"], [*result["models"], *result["shortcuts"]]
    label = result.get("metrics", {}).get(metric, metric)
    table = Table(
        title=f"Transfer: {label} (rows: trained on; columns: scored on; * held-out split)",
        title_justify="left",
        header_style="bold",
        padding=(0, 1),
    )
    table.add_column("trained on")
    table.add_column("method")
    for f in files:
        table.add_column(f, justify="right")
    grid = {m: result["matrix"][m][metric] for m in methods}
    for tr in files:
        best = {}
        for te in files:
            vals = [grid[m][tr][te]["value"] for m in methods]
            nums = [v for v in vals if isinstance(v, int | float) and v == v]
            best[te] = max(nums) if nums else None
        for j, m in enumerate(methods):
            cells = []
            for te in files:
                v = grid[m][tr][te]["value"]
                s = _fmt(v) + ("*" if tr == te and v is not None else "")
                cells.append(Text(s, style="bold") if v is not None and v == best[te] else s)
            name = Text(m, style="bold cyan") if m in result["models"] else m
            table.add_row(tr if j == 0 else "", name, *cells, end_section=j == len(methods) - 1)
    return table


def print_transfer(result: dict[str, Any], console: Console | None = None) -> None:
    """Print a transfer (``TransferResult.to_dict()``): one matrix per metric, then verdicts."""
    console = console or Console()
    files = result["files"]
    for tr in files:
        for te, cell in result["cells"].get(tr, {}).items():
            if cell.get("note"):
                console.print(f"[yellow]{tr} -> {te}: {cell['note']}[/yellow]")
    for metric in result.get("metrics", {}):
        console.print(transfer_table(result, metric))
    counts: dict[str, dict[str, int]] = {}
    for v in result.get("verdicts", []):
        c = counts.setdefault(v["model"], {"wins": 0, "ties": 0, "loses": 0})
        c[v["verdict"]] += 1
    for m, c in counts.items():
        console.print(
            f"{m}: wins {c['wins']}, ties {c['ties']}, loses {c['loses']} of "
            f"{sum(c.values())} paired verdicts (every cell and metric, against the best "
            "shortcut and the best other model)"
        )
    losses = [v for v in result.get("verdicts", []) if v["verdict"] == "loses"]
    if losses:
        console.print(verdicts_table(losses, "Losses (trained on -> scored on)"))
