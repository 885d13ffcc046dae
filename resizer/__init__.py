"""resizer: a batch image resizer for datasets.

The Python API is the command's twin (see the README's Python section):

    import resizer
    result = resizer.resize("photos", "small", size="224x224", mode="fill")
    result.ok, result.failed, result.exit_code, result.records

    resized = resizer.resize_image(pil_image_or_rgb_array, "224x224", mode="fill")
    resized.image, resized.resize, resized.crop_box, resized.pad_offset
"""

__version__ = "0.1.0"

from .api import ResizedImage, ResizeResult, resize, resize_image
from .faults import OutError
from .options import RECIPES
from .plan import PlanError
from .run import BusyError, StoreError
from .settings import OptionError

__all__ = [
    "RECIPES",
    "BusyError",
    "OptionError",
    "OutError",
    "PlanError",
    "ResizeResult",
    "ResizedImage",
    "StoreError",
    "__version__",
    "resize",
    "resize_image",
]
