"""History and model -> metrics, graphs and the filled-in Results document."""
