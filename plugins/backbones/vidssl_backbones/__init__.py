"""vidssl-backbones: video backbones (3D ResNets, R(2+1)D) for vidssl."""
