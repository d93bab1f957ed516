"""Private: the engine: runner, stage kinds, training loop, optimizer step, run context, evaluation
context, work dir, sampler.
"""
