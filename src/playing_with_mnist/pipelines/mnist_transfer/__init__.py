"""Task 2: does pretraining on the handwritten digits of Task 1 help on MNIST?"""

from .pipeline import create_pipeline as create_pipeline
