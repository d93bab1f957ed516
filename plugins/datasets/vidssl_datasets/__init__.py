"""vidssl-datasets: video datasets, readers, clip sampling and augmentation for vidssl."""
