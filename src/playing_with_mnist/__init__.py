"""playing-with-mnist: the "Playing With Mnist" experiments as a Kedro project."""

__version__ = "0.1.0"
