"""GenStudio: watch generative models learn, live."""

__version__ = "0.1.0"
