"""Deterministic synthetic stand-ins for the real data, so every pipeline runs without a download.

``characters``: trainPart1.zip's layout (62 folders of dark glyphs on white); ``mnist``: the
four MNIST IDX files; ``noisy_digits``: mnistTask3.zip's layout with labels drawn wrong through a
known noise matrix. The datasets in ``datasets/`` make them on first use when the real files
are absent; the readers in ``data/`` never depend on them.
"""
