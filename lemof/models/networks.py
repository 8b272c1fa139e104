"""The networks of the neural fusions, by name: ``@register_fusion`` and ``create_model(spec)``.

Each neural fusion's network is registered by name with ``@register_fusion`` beside its class
(LeMoF and its ablations in ``models/model.py``, each baseline in ``models/baselines.py``);
``create_model(spec)`` builds it, importing the module that registers it on first use, and fails
loudly on a name that has no network. The names and kinds themselves are ``models/fusions.py``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable

from lemof.errors import ConfigError
from lemof.models.fusions import fusion_kind
from lemof.models.spec import ModelSpec

if TYPE_CHECKING:
    from torch import nn


# The module that registers the networks of each kind (imported when one is first built).
_BUILTIN_MODULES = {"lemof": "lemof.models.model", "baseline": "lemof.models.baselines"}
_BUILDERS: dict[str, Callable[[ModelSpec], "nn.Module"]] = {}


def register_fusion(*names: str) -> Callable[[Callable], Callable]:
    """Decorator: the network of the fusion(s) ``names`` is built by calling the decorated class
    (or function) with the run's ``ModelSpec``."""
    for name in names:
        if fusion_kind(name) == "tabular":
            raise ValueError(f"fusion {name!r} is tabular: it has no network to register")

    def wrap(builder: Callable) -> Callable:
        for name in names:
            if name in _BUILDERS:
                raise ValueError(f"fusion {name!r} is registered twice")
            _BUILDERS[name] = builder
        return builder

    return wrap


def create_model(spec: ModelSpec) -> "nn.Module":
    """The (untrained) network of ``spec.fusion``: ``LeMoF`` for LeMoF and its ablations, the
    baseline's network otherwise. ``ConfigError`` for an unknown fusion or one without a network."""
    kind = fusion_kind(spec.fusion)
    if kind == "tabular":
        raise ConfigError(f"fusion {spec.fusion!r} is tabular: it has no network")
    if spec.fusion not in _BUILDERS:
        importlib.import_module(_BUILTIN_MODULES[kind])
    builder = _BUILDERS.get(spec.fusion)
    if builder is None:
        raise ConfigError(f"no network is registered for fusion {spec.fusion!r}; registered: {', '.join(sorted(_BUILDERS))}")
    return builder(spec)
