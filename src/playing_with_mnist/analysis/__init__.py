"""Analysis of trained models: ``inference`` (using a model), ``metrics`` (numbers) and ``figures``."""
