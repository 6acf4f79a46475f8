"""Prepare stage: a validated case and its rule pack become frozen model data (``models.data``):
allocation, prices, limits and the notes that explain them; price variants re-priced cheaply."""
