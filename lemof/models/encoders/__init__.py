"""Built-in encoders; importing this package registers them."""

from lemof.models.encoders import gru, resnet1d  # noqa: F401
from lemof.models.encoders.base import LevelEncoder

__all__ = ["LevelEncoder"]
