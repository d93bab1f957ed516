"""Entry point of vidssl-idt: registers the ``idt`` and ``idt_clusters`` extractors (imported inside
the hook: ``vidssl-idt extract`` builds a dataset only, and starts without torch)."""

from vidssl import hookimpl


@hookimpl
def vidssl_register_extractors(register):
    from vidssl_idt.extractors import IDTClusters, IDTExtractor  # noqa: PLC0415 -- lazy: imports torch

    register("idt", IDTExtractor)
    register("idt_clusters", IDTClusters)


@hookimpl
def vidssl_smoke_caps(kind, cfg, n_videos):
    """IDT on the first 32 frames of each video; cluster and mixture sizes within the videos."""
    if kind != "extractor" or cfg.get("type") not in ("idt", "idt_clusters"):
        return None
    caps = {"max_frames": 32}
    if cfg["type"] == "idt_clusters":
        for arg, default in (("k", 6000), ("gmm_components", 256)):
            if cfg.get(arg, default) > n_videos // 2:  # videos without trajectories drop out
                caps[arg] = max(1, n_videos // 2)
    return caps
