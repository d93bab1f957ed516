"""Entry point of vidssl-datasets: registers the datasets, describes them on protocol cards and
shrinks their clips (and synthetic_motion's generated copy) for ``--smoke --tiny``."""

from vidssl import hookimpl, schema_from_signature
from vidssl_datasets import datasets
from vidssl_datasets.annotations import gc_paused
from vidssl_datasets.card import dataset_card
from vidssl_datasets.video_source import READER_SCHEMA
from vidssl_datasets.view import VIEW_SCHEMA, tiny_view

DATASETS = (
    "synthetic_motion",
    "ucf101",
    "hmdb51",
    "kinetics400",
    "something_v1",
    "video_list",
    "video_files",
)
#: synthetic_motion's copy under --smoke --tiny: 80 videos, written in about a second instead of
#: the demo size's 2,600 in ~17 s (a preflight reads a few of them)
TINY_SYNTHETIC = {"train_per_class": 4, "test_per_class": 4}


def _schema(builder) -> dict:
    """The builder's signature schema, with the ``view`` and ``reader`` dicts checked field by
    field."""
    schema = schema_from_signature(builder, skip=("views",))
    schema["properties"]["view"] = {"anyOf": [VIEW_SCHEMA, {"type": "null"}]}
    schema["properties"]["reader"] = {"anyOf": [READER_SCHEMA, {"type": "null"}]}
    return schema


@hookimpl
def vidssl_register_datasets(register):
    for name in DATASETS:
        builder = getattr(datasets, name)
        register(name, gc_paused(builder), _schema(builder))


@hookimpl
def vidssl_dataset_card(cfg):
    return dataset_card(cfg) if cfg.get("type") in DATASETS else None


@hookimpl
def vidssl_smoke_tiny(kind, cfg):
    if kind != "dataset" or cfg.get("type") not in DATASETS:
        return None
    tiny = {"view": tiny_view(cfg.get("view"))}
    if cfg["type"] == "synthetic_motion":
        tiny |= {key: min(cfg.get(key, count), count) for key, count in TINY_SYNTHETIC.items()}
    return tiny
