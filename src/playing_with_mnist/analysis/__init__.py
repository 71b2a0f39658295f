"""Analysis of trained models: ``inference`` (using a model), ``metrics`` (accuracies, run comparisons), ``noise`` (label noise) and ``figures``."""
