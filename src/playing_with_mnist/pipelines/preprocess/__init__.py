"""Zip of character images -> cached 32x32 grayscale tensors and a train/val split."""
