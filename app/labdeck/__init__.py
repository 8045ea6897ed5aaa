"""LabDeck: run and watch batch jobs across a small lab of machines."""

__version__ = "0.1.0"
