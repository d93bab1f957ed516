"""Entry point of vidssl-methods: registers methods, evaluators, the ``features`` extractor and
hooks. Each registration hook imports its components (torch code) itself: a command imports only
the kinds it asks for."""

import inspect
from pathlib import Path

import vidssl
from vidssl import hookimpl, schema_from_signature

#: the configs this package ships (the repository's configs/, included when it is built)
CONFIGS = Path(__file__).parent / "configs"


@hookimpl
def vidssl_register_methods(register):
    from vidssl_methods.classifier import linear_probe, supervised  # noqa: PLC0415 -- lazy: imports torch
    from vidssl_methods.instance_recognition import InstanceRecognition  # noqa: PLC0415 -- lazy: imports torch
    from vidssl_methods.local_aggregation import LocalAggregation  # noqa: PLC0415 -- lazy: imports torch
    from vidssl_methods.mlfo import MLFO  # noqa: PLC0415 -- lazy: imports torch
    from vidssl_methods.vtdl import VTDL  # noqa: PLC0415 -- lazy: imports torch

    register("supervised", supervised, demo_config=CONFIGS / "supervised_r3d_synthetic.py")
    register("linear_probe", linear_probe)
    register("vtdl", VTDL, demo_config=CONFIGS / "vtdl_r3d_synthetic.py")
    register("instance_recognition", InstanceRecognition)
    register("local_aggregation", LocalAggregation, demo_config=CONFIGS / "la_idt_r3d_synthetic.py")
    register("mlfo", MLFO, demo_config=CONFIGS / "mlfo_r3d_synthetic.py")


@hookimpl
def vidssl_register_configs(register):
    for path in sorted(CONFIGS.glob("*.py")):
        register(path.stem, path)


@hookimpl
def vidssl_register_evaluators(register):
    from vidssl_methods.classification_evaluator import ClassificationEvaluator  # noqa: PLC0415 -- lazy: imports torch
    from vidssl_methods.retrieval_evaluator import RetrievalEvaluator  # noqa: PLC0415 -- lazy: imports torch

    register("classification", ClassificationEvaluator)
    schema = schema_from_signature(RetrievalEvaluator)
    # its gallery: a dataset config, named "gallery" on the protocol card
    schema["properties"]["train_dataset"] = {"x-component": "dataset", "x-role": "gallery", "type": "object"}
    register("retrieval", RetrievalEvaluator, schema)


@hookimpl
def vidssl_register_extractors(register):
    from vidssl_methods.features_extractor import FeaturesExtractor  # noqa: PLC0415 -- lazy: imports torch

    register("features", FeaturesExtractor)


@hookimpl
def vidssl_register_hooks(register):
    from vidssl_methods.metrics_plot import MetricsPlot  # noqa: PLC0415 -- lazy: imports torch

    register("metrics_plot", MetricsPlot)


#: method arguments that grow with the training set (a smoke run caps them to its videos)
DATA_SIZED = {
    "local_aggregation": ("k", "background_k"),
    "instance_recognition": ("num_noise",),
    "vtdl": ("queue_size",),
    "mlfo": ("queue_size", "num_prototypes"),
}


@hookimpl
def vidssl_smoke_caps(kind, cfg, n_videos):
    if kind != "method" or cfg.get("type") not in DATA_SIZED:
        return None
    arguments = DATA_SIZED[cfg["type"]]
    defaults = inspect.signature(vidssl.get_plugins().registry.get("method", cfg["type"]).builder).parameters
    values = {arg: cfg.get(arg, defaults[arg].default) for arg in arguments}
    # k-means k at half the videos: some may drop out (videos without trajectories)
    limits = {arg: max(1, n_videos // 2) if arg == "k" else n_videos for arg in arguments}
    return {arg: limits[arg] for arg, value in values.items() if value > limits[arg]}
