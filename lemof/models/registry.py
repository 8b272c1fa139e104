"""Registry of encoders by modality and name (``create_encoder("ehr", "gru", ...)``).

An encoder configuration such as ``gru+resnet1d`` names one EHR and one biosignal encoder.
Unknown names fail loudly, listing what is available.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Callable

from lemof.errors import ConfigError

MODALITIES = ("ehr", "sig")
_ENCODERS: dict[str, dict[str, type]] = {m: {} for m in MODALITIES}


def register_encoder(modality: str, name: str) -> Callable[[type], type]:
    """Class decorator: make an encoder available under ``name`` for ``modality``."""
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")

    def wrap(cls: type) -> type:
        if name in _ENCODERS[modality]:
            raise ValueError(f"{modality} encoder {name!r} is registered twice")
        cls.registry_name = name
        cls.modality = modality
        _ENCODERS[modality][name] = cls
        return cls

    return wrap


def list_encoders(modality: str) -> list[str]:
    _ensure_loaded()
    return sorted(_ENCODERS[modality])


def encoder_class(modality: str, name: str) -> type:
    _ensure_loaded()
    if modality not in MODALITIES:
        raise ConfigError(f"unknown modality {modality!r}; available: {', '.join(MODALITIES)}")
    try:
        return _ENCODERS[modality][name]
    except KeyError:
        raise ConfigError(
            f"unknown {modality} encoder {name!r}; available: {', '.join(sorted(_ENCODERS[modality]))}"
        ) from None


def create_encoder(modality: str, name: str, in_channels: int, seq_len: int, params: dict[str, Any] | None = None):
    """Build a registered encoder. ``params`` override fields of the encoder's ``Config``."""
    cls = encoder_class(modality, name)
    params = dict(params or {})
    known = {f.name for f in fields(cls.Config)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"{modality} encoder {name!r} has no parameter(s) {unknown}; known: {sorted(known)}")
    return cls(in_channels, seq_len, cls.Config(**params))


def parse_encoder_pair(spec: str) -> tuple[str, str]:
    """``"gru+resnet1d"`` -> ``("gru", "resnet1d")``, both checked against the registry."""
    parts = spec.split("+")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"encoder configuration must look like EHR+SIG (e.g. gru+resnet1d), got {spec!r}")
    encoder_class("ehr", parts[0])
    encoder_class("sig", parts[1])
    return parts[0], parts[1]


def _ensure_loaded() -> None:
    # Importing the package registers every built-in encoder.
    import lemof.models.encoders  # noqa: F401
