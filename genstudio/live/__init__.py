"""Live runs, without Qt: a Run (its state machine and its data), the training process and its
forkserver, the worker that drives the engine, and the explorer thread. The window displays them."""
