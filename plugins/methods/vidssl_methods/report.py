"""``vidssl-report WORK_DIR... [--out DIR]``: a run report a reader can open anywhere.

Writes DIR/report.html (self-contained: styles and images inline, no external resource) and
DIR/report.md with its PNGs beside it, for one or more work dirs (vidssl-run or vidssl-eval):
the results with the protocol card behind each number (mean ± std over a vidssl-eval's splits
and seeds), the training curves (loss per iteration, learning rate, validation accuracy), the
per-class accuracy and confusion matrix of every evaluation that wrote them
(classification(report=True)), the retrieval examples (retrieval: each query's 5 nearest
videos), the environment (versions, git commit, seed, command) and the time of each stage.
With --table, prints only the Markdown results table of the work dirs (what the manual's result
tables are made of).
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidssl import ConfigError, command_parser, guarded
from vidssl_methods.metrics_plot import plot_metrics


@dataclass
class RunRecord:
    """What the report shows of one work dir."""

    name: str
    work_dir: Path
    results: dict[str, dict[str, float | None]]
    cards: dict[str, dict[str, Any]]
    env: dict[str, Any]
    seconds: dict[str, float]
    #: (title, PNG path) in the order shown
    figures: list[tuple[str, Path]] = field(default_factory=list)
    #: stage → per-class rows (class, videos, top1)
    per_class: dict[str, list[list[str]]] = field(default_factory=dict)


def _json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def finished_results(work_dir: Path) -> dict[str, Any]:
    """The ``results.json`` of a finished run in ``work_dir``, or a :class:`ConfigError`."""
    results = _json(work_dir / "results.json")
    if results is None:
        raise ConfigError(f"{work_dir} holds no results.json: not a finished vidssl run")
    return results


def collect(work_dir: Path, out: Path | None) -> RunRecord:
    """Read a work dir (a multi-run vidssl-eval dir: its first run gives curves and environment)
    and draw its figures into ``out`` (none without it)."""
    results = finished_results(work_dir)
    cards = _json(work_dir / "protocols.json") or {}
    first_run = work_dir
    if not (work_dir / "metrics.jsonl").is_file():
        runs = sorted(p.parent for p in work_dir.glob("*/metrics.jsonl"))
        first_run = runs[0] if runs else work_dir
    name = work_dir.resolve().name
    log = first_run / "metrics.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    seconds = {r["stage"]: r["seconds"] for r in records if r["event"] == "stage" and "seconds" in r}
    record = RunRecord(name, work_dir, results, cards, _json(first_run / "env.json") or {}, seconds)
    curves = out / f"{name}_metrics.png" if out is not None else None
    if curves is not None and plot_metrics(log, curves):
        record.figures.append(("training curves (loss, learning rate, validation top-1)", curves))
    for stage in results:
        for suffix, title in (
            ("confusion", "confusion matrix"),
            ("retrieval_examples", "retrieval examples"),
        ):
            png = first_run / f"{stage}_{suffix}.png"
            if out is not None and png.is_file():
                copy = out / f"{name}_{png.name}"
                shutil.copyfile(png, copy)
                record.figures.append((f"{stage}: {title}", copy))
        table = first_run / f"{stage}_per_class.tsv"
        if table.is_file():
            rows = [line.split("\t") for line in table.read_text().splitlines()[1:] if line]
            record.per_class[stage] = sorted(rows, key=lambda r: float(r[2]))
    return record


def card_summary(card: dict[str, Any]) -> str:
    """One line of a protocol card: protocol, data, input, views, features, training, weights."""
    parts = [f"protocol {card.get('protocol') or card.get('stage_type')}"]
    data = card.get("data", {})
    for role in ("train", "test", "gallery"):
        if role in data:
            d = data[role]
            split = "".join(f" {k} {d[k]}" for k in ("split", "subset") if k in d)
            parts.append(f"{role}: {d.get('type')}{split}")
    if "input" in card:
        i = card["input"]
        size = f" at {i['size']} px" if "size" in i else ""
        parts.append(
            f"{i['frames']} {i['clip_len']} frames"
            f"{' every ' + str(i['stride']) if i.get('stride', 1) != 1 else ''}{size}"
            if "clip_len" in i
            else f"whole {i['frames']} videos{size}"
        )
    if "test_views" in card:
        v = card["test_views"]
        parts.append(f"{v['clips']} clip(s) × {v['crops']} crop(s) per video")
    evaluator = card.get("evaluator", {})
    if "aggregation" in evaluator:
        parts.append(evaluator["aggregation"])
    if "level" in evaluator:  # "video" or "video (how its features are made)"
        level, _, how = evaluator["level"].partition(" ")
        parts.append(f"{level}-level {how}".strip())
    head = card.get("method", {}).get("head")
    if head:
        parts.append(head)
    training = card.get("training")
    if training:
        optimizer = training.get("optimizer") or {}
        parts.append(
            f"{training['epochs']} epoch(s) {optimizer.get('type', '')} lr "
            f"{optimizer.get('lr', '?')}, backbone {training['backbone']}"
        )
    sha = (card.get("checkpoint") or {}).get("backbone_sha256")
    if sha:
        parts.append(f"weights {sha[:12]}")
    if card.get("runs"):
        parts.append(f"mean ± std over {len(card['runs'])} runs")
    return "; ".join(parts)


def metric_text(value: float | None, card: dict[str, Any], key: str) -> str:
    if value is None:
        return "-"
    std = (card.get("std") or {}).get(key)
    return f"{value:.2f} ± {std:.2f}" if std is not None else f"{value:.2f}"


def markdown_table(records: list[RunRecord]) -> str:
    """The results of every stage of ``records``: run, stage, metrics and the card's summary."""
    keys = [
        k
        for k in ("top1", "top5", "mean_class_acc", "R@1", "R@5", "R@10", "R@20", "R@50")
        if any(k in m for r in records for m in r.results.values())
    ]
    lines = [
        "| run | stage | " + " | ".join(keys) + " | protocol |",
        "|---|---|" + "---|" * len(keys) + "---|",
    ]
    for record in records:
        for stage, metrics in record.results.items():
            card = record.cards.get(stage, {})
            cells = [metric_text(metrics.get(k), card, k) if k in metrics else "" for k in keys]
            lines.append(
                f"| {record.name} | {stage} | "
                + " | ".join(cells)
                + f" | {card_summary(card) if card else 'no card'} |"
            )
    return "\n".join(lines) + "\n"


def _env_rows(env: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [(k, str(env.get(k))) for k in ("git_commit", "seed", "device", "world_size", "config")]
    rows.append(("command", " ".join(env.get("command") or [])))
    rows += [(name, version) for name, version in (env.get("versions") or {}).items()]
    return rows


STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;
font-size:13px;vertical-align:top}th{background:#eee}img{max-width:100%;border:1px solid #ddd}
pre{background:#f6f6f6;padding:8px;font-size:11px;overflow:auto}.card{font-size:12px;color:#444}"""


def render_html(records: list[RunRecord]) -> str:
    e = html.escape
    body = [
        f"<h1>vidssl report: {e(', '.join(r.name for r in records))}</h1>",
        '<h2 id="results">Results</h2>',
    ]
    for record in records:
        body.append(
            f"<h3>{e(record.name)}</h3><table class='results'><tr><th>stage</th>"
            f"<th>metrics</th><th>protocol card</th></tr>"
        )
        for stage, metrics in record.results.items():
            card = record.cards.get(stage, {})
            values = ", ".join(f"{e(k)} {e(metric_text(v, card, k))}" for k, v in metrics.items())
            body.append(
                f"<tr><td>{e(stage)}</td><td>{values}</td><td class='card'>"
                f"{e(card_summary(card)) if card else 'no card'}<details><summary>full "
                f"card</summary><pre>{e(json.dumps(card, indent=1))}</pre></details>"
                f"</td></tr>"
            )
        body.append("</table>")
    for record in records:
        body.append(f"<h2 id='figures-{e(record.name)}' class='figures'>Figures: {e(record.name)}</h2>")
        for title, path in record.figures:
            data = base64.b64encode(path.read_bytes()).decode()
            kind = (
                "retrieval"
                if "retrieval" in path.name
                else "confusion"
                if "confusion" in path.name
                else "curves"
            )
            body.append(
                f"<figure class='{kind}'><img alt='{e(title)}' "
                f"src='data:image/png;base64,{data}'><figcaption>{e(title)}</figcaption>"
                f"</figure>"
            )
        for stage, rows in record.per_class.items():
            body.append(
                f"<h3 class='per-class'>{e(stage)}: per-class accuracy (worst first)</h3>"
                "<table><tr><th>class</th><th>videos</th><th>top-1 (%)</th></tr>"
                + "".join(f"<tr><td>{e(c)}</td><td>{e(n)}</td><td>{e(a)}</td></tr>" for c, n, a in rows)
                + "</table>"
            )
    body.append(
        '<h2 id="timing">Time per stage</h2><table><tr><th>run</th><th>stage</th><th>seconds</th></tr>'
    )
    body += [
        f"<tr><td>{e(r.name)}</td><td>{e(s)}</td><td>{t:.1f}</td></tr>"
        for r in records
        for s, t in r.seconds.items()
    ]
    body.append('</table><h2 id="environment">Environment</h2>')
    for record in records:
        body.append(
            f"<h3>{e(record.name)}</h3><table class='environment'>"
            + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _env_rows(record.env))
            + "</table>"
        )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>vidssl report</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )


def render_markdown(records: list[RunRecord]) -> str:
    parts = [
        f"# vidssl report: {', '.join(r.name for r in records)}\n",
        "## Results\n",
        markdown_table(records),
    ]
    for record in records:
        parts.append(f"\n## Figures: {record.name}\n")
        parts += [f"\n![{title}]({path.name})\n" for title, path in record.figures]
        for stage, rows in record.per_class.items():
            parts.append(
                f"\n### {stage}: per-class accuracy (worst first)\n\n| class | videos | "
                f"top-1 (%) |\n|---|---|---|\n" + "".join(f"| {c} | {n} | {a} |\n" for c, n, a in rows)
            )
    parts.append(
        "\n## Time per stage\n\n| run | stage | seconds |\n|---|---|---|\n"
        + "".join(f"| {r.name} | {s} | {t:.1f} |\n" for r in records for s, t in r.seconds.items())
    )
    parts.append("\n## Environment\n")
    for record in records:
        parts.append(
            f"\n### {record.name}\n\n| | |\n|---|---|\n"
            + "".join(f"| {k} | `{v}` |\n" for k, v in _env_rows(record.env))
        )
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("vidssl-report", __doc__)
    parser.add_argument("work_dirs", nargs="+", metavar="WORK_DIR", help="vidssl work dirs")
    parser.add_argument("--out", help="default: <first WORK_DIR>/report")
    parser.add_argument(
        "--table", action="store_true", help="print the Markdown results table only (nothing written)"
    )
    args: argparse.Namespace = parser.parse_args(argv)

    def body() -> int:
        out = Path(args.out or Path(args.work_dirs[0]) / "report")
        if args.table:
            print(markdown_table([collect(Path(w), None) for w in args.work_dirs]), end="")
            return 0
        for work_dir in args.work_dirs:  # every one is a finished run before anything is written
            finished_results(Path(work_dir))
        out.mkdir(parents=True, exist_ok=True)
        records = [collect(Path(w), out) for w in args.work_dirs]
        (out / "report.html").write_text(render_html(records))
        (out / "report.md").write_text(render_markdown(records))
        print(
            f"vidssl-report: wrote {out / 'report.html'} (self-contained) and "
            f"{out / 'report.md'} with {sum(len(r.figures) for r in records)} PNGs beside it"
        )
        return 0

    return guarded("vidssl-report", body, args.debug)


if __name__ == "__main__":
    raise SystemExit(main())
