"""resizer's benchmark: `python bench/run.py --corpus DIR` (see bench/README.md)."""
