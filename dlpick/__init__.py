"""dlpick: pick a deep-learning framework for your project, scaffold it, prove it trains."""

__version__ = "0.1.0"
