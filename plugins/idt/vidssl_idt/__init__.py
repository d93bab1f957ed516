"""vidssl-idt: improved dense trajectories, Fisher vectors and clustering for vidssl."""
