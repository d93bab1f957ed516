"""vidssl-methods: training methods (supervised, linear probe, SSL objectives) and evaluators."""
