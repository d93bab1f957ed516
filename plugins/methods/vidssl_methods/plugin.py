"""Entry point of vidssl-methods: registers methods and evaluators."""
from vidssl import hookimpl

from vidssl_methods.classification_evaluator import ClassificationEvaluator
from vidssl_methods.classifier import linear_probe, supervised


@hookimpl
def vidssl_register_methods(register):
    register("supervised", supervised)
    register("linear_probe", linear_probe)


@hookimpl
def vidssl_register_evaluators(register):
    register("classification", ClassificationEvaluator)
