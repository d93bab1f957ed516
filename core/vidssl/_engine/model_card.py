"""The model card (``README.md``) of a model folder, written from the run's protocol cards: what
the weights are, what they read, how they were trained, and every result the run measured with
the protocol behind it."""

from __future__ import annotations

import json
from typing import Any


def _plain(value: Any) -> str:
    """A card value on one line: mappings as ``key: value`` pairs, the rest as JSON."""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items() if v is not None)
    return value if isinstance(value, str) else json.dumps(value)


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def model_card(
    run_name: str, config: dict[str, Any], cards: dict[str, dict], results: dict[str, dict]
) -> str:
    """Markdown: front matter (license left for the user to fill in), the backbone and its
    weights (format, SHA-256 of ``model.safetensors``), input, training of the exported stage,
    and a table of every stage's results in ``results`` with its protocol card's essentials."""
    stage = config["stage"]
    trained = cards.get(stage, {})
    lines = [
        "---",
        "license: # fill in: the license of these weights and of the data they saw",
        "library_name: vidssl",
        "tags: [video, action-recognition, vidssl]",
        "---",
        "",
        f"# {run_name}: {config['backbone']['type']} from stage '{stage}'",
        "",
        f"Backbone `{_plain(config['backbone'])}` ({config['feat_dim']}-d features), trained "
        f"by stage `{stage}` of the vidssl run `{run_name}`.",
        "",
        "## Weights",
        "",
        f"- `model.safetensors`, layout `{config['format']}`, SHA-256 `{config['weights_sha256']}`",
        f"- classifier: {_plain(config['head']) if config['head'] else 'none (backbone only)'}",
        "- load: `vidssl.load_backbone(FOLDER)`, `init_from=FOLDER` in a config, or "
        "`vidssl-eval FOLDER --protocol NAME --dataset NAME`",
        "",
        "## Input",
        "",
        f"{_plain(config['input']) if config['input'] else 'not recorded'}",
        "",
    ]
    lines += ["## Training", ""]
    for key in ("data", "method", "training"):
        if key in trained:
            lines.append(f"- {key}: {_plain(trained[key])}")
    lines += [
        "",
        "## Results",
        "",
        "Every stage of the run that measured something, with its "
        "protocol (`protocols.json` of the run holds the whole card of each).",
        "",
        "| stage | protocol | evaluation | data | results |",
        "|---|---|---|---|---|",
    ]
    for name, metrics in results.items():
        card = cards.get(name, {})
        if not metrics or "evaluator" not in card:
            continue
        data = card.get("data", {}).get("test") or card.get("data", {}).get("train") or {}
        evaluation = _plain(
            {
                "stage": card.get("stage_type"),
                **{k: v for k, v in card["evaluator"].items() if k in ("type", "level")},
                "head": (card.get("method") or {}).get("type"),
            }
        )
        shown = ", ".join(f"{k} {_number(v)}" for k, v in metrics.items())
        lines.append(
            f"| {name} | {card.get('protocol') or 'the run’s own'} | {evaluation} | "
            f"{_plain(data)} | {shown} |"
        )
    return "\n".join(lines) + "\n"
