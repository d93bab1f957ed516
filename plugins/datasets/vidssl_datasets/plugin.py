"""Entry point of vidssl-datasets: registers the dataset builders."""
from vidssl import hookimpl
from vidssl.schema import schema_from_signature

from vidssl_datasets.builders import synthetic_motion
from vidssl_datasets.view import VIEW_SCHEMA


def _schema(builder) -> dict:
    """The builder's signature schema, with the ``view`` dict checked field by field."""
    schema = schema_from_signature(builder, skip=("views",))
    schema["properties"]["view"] = {"anyOf": [VIEW_SCHEMA, {"type": "null"}]}
    return schema


@hookimpl
def vidssl_register_datasets(register):
    register("synthetic_motion", synthetic_motion, _schema(synthetic_motion))
