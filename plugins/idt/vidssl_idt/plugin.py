"""Entry point of vidssl-idt: registers the ``idt`` and ``idt_clusters`` extractors."""
from vidssl import hookimpl
from vidssl_idt.extractors import IDTClusters, IDTExtractor


@hookimpl
def vidssl_register_extractors(register):
    register("idt", IDTExtractor)
    register("idt_clusters", IDTClusters)
