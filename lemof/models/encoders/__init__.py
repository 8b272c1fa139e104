"""Built-in encoders; importing this package registers them."""

from lemof.models.encoders import gru, resnet1d, tcn, transformer  # noqa: F401
from lemof.models.encoders.base import LevelEncoder

__all__ = ["LevelEncoder"]
