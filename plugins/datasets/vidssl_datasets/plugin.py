"""Entry point of vidssl-datasets: registers the dataset builders."""
from vidssl import hookimpl
from vidssl.schema import schema_from_signature
from vidssl_datasets import builders
from vidssl_datasets.view import VIEW_SCHEMA

DATASETS = ("synthetic_motion", "ucf101", "hmdb51", "kinetics400", "something_v1", "video_list")


def _schema(builder) -> dict:
    """The builder's signature schema, with the ``view`` dict checked field by field."""
    schema = schema_from_signature(builder, skip=("views",))
    schema["properties"]["view"] = {"anyOf": [VIEW_SCHEMA, {"type": "null"}]}
    return schema


@hookimpl
def vidssl_register_datasets(register):
    for name in DATASETS:
        builder = getattr(builders, name)
        register(name, builder, _schema(builder))
