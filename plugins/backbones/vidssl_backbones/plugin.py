"""Entry point of vidssl-backbones: registers every backbone builder."""
from vidssl import hookimpl

from vidssl_backbones.resnet3d import r2plus1d, r3d


@hookimpl
def vidssl_register_backbones(register):
    register("r3d", r3d)
    register("r2plus1d", r2plus1d)
