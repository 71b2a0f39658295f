"""Reading data: zip archives, IDX files, folders of images, the shared image preprocessing, and
the model input every training reads (``model_input``). The synthetic stand-ins are in ``demo/``."""
