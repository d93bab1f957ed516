"""Entry point of vidssl-datasets: registers the datasets."""
from vidssl import hookimpl
from vidssl.schema import schema_from_signature
from vidssl_datasets import datasets
from vidssl_datasets.annotations import gc_paused
from vidssl_datasets.video_source import READER_SCHEMA
from vidssl_datasets.view import VIEW_SCHEMA

DATASETS = ("synthetic_motion", "ucf101", "hmdb51", "kinetics400", "something_v1", "video_list",
            "video_files")


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
