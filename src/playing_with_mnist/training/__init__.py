"""Training machinery shared by every pipeline that trains or scores a model."""
