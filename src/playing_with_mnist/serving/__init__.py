"""Using the trained model outside the project's pipelines: the registered MLflow model (``registry``), served over
HTTP by MLflow's scoring server or on a page to write characters on (``cli``: ``playing-with-mnist serve | draw``)."""
