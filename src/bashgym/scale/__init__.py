"""Past one process: the heavy stages on engines people already run (Ray for the factory, the judge and
eval rollouts). `cluster.connect_ray` is the one way in; everything Ray-specific is imported lazily, so the
base install never needs the [scale] extra."""
