"""The Qt layer: a thin, responsive window over the headless engine. Only this package imports Qt."""
