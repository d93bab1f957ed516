"""The core's own plugin (entry point ``vidssl``): its stage kinds (``train``, ``probe``,
``evaluate``, ``extract``) and its weight layout (``vidssl``), registered through the same hooks a
plugin implements."""

from vidssl._engine.stage_kinds import vidssl_register_stages
from vidssl._engine.weights import vidssl_register_weight_formats

__all__ = ["vidssl_register_stages", "vidssl_register_weight_formats"]
