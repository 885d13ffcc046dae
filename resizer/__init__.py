"""resizer: a batch image resizer for datasets."""

__version__ = "0.1.0"
