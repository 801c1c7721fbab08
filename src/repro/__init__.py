"""repro: reproduce the headline results of deep-learning theory, check each claim, write a report."""

__version__ = "0.1.0"
