"""Training loop, metrics, checkpoints and pictures: everything the CLI, benchmarks and GUI share. No Qt."""
