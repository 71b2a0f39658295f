"""Reading character images: zip archives, the shared preprocessing, the synthetic demo set."""
