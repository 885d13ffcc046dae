"""For tests: an interpreter that reports another Pillow version, as a worker of a cluster
installed at another time would. Put this folder on PYTHONPATH of such a worker."""

from importlib import metadata

_real_version = metadata.version


def _version(name: str) -> str:
    return "9.0.0" if name.lower() == "pillow" else _real_version(name)


metadata.version = _version
