"""Registry of encoders by modality and name (``create_encoder("ehr", "gru", ...)``).

An encoder configuration such as ``gru+resnet1d`` names one EHR and one biosignal encoder.
Unknown names fail loudly, listing what is available. The built-in encoders are listed by
module here, so that names can be checked (a run's config, a form in the app) without
importing torch; a module is imported, and its encoders registered, when one is built.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Callable

from lemof.errors import ConfigError
from lemof.models.spec import MODALITIES, ModelSpec

_BUILTIN: dict[str, dict[str, str]] = {
    "ehr": {"gru": "gru", "transformer": "transformer", "tcn": "tcn"},
    "sig": {"resnet1d": "resnet1d", "transformer": "transformer", "tcn": "tcn"},
}
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
    return sorted(set(_BUILTIN.get(modality, {})) | set(_ENCODERS.get(modality, {})))


def check_encoder_name(modality: str, name: str) -> None:
    """``ConfigError`` naming the available encoders if ``name`` is unknown (no torch import)."""
    if modality not in MODALITIES:
        raise ConfigError(f"unknown modality {modality!r}; available: {', '.join(MODALITIES)}")
    if name not in list_encoders(modality):
        raise ConfigError(f"unknown {modality} encoder {name!r}; available: {', '.join(list_encoders(modality))}")


def encoder_class(modality: str, name: str) -> type:
    check_encoder_name(modality, name)
    if name not in _ENCODERS[modality]:
        import importlib

        importlib.import_module(f"lemof.models.encoders.{_BUILTIN[modality][name]}")
    return _ENCODERS[modality][name]


def create_encoder(modality: str, name: str, in_channels: int, seq_len: int, params: dict[str, Any] | None = None):
    """Build a registered encoder. ``params`` override fields of the encoder's ``Config``."""
    cls = encoder_class(modality, name)
    params = dict(params or {})
    known = {f.name for f in fields(cls.Config)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"{modality} encoder {name!r} has no parameter(s) {unknown}; known: {sorted(known)}")
    return cls(in_channels, seq_len, cls.Config(**params))


def create_encoders(spec: ModelSpec) -> tuple:
    """The EHR and biosignal encoders of a network's spec (built in that order, so that their
    initial weights follow from the seed as they always have)."""
    ehr = create_encoder("ehr", spec.ehr_encoder, spec.ehr_in_channels, spec.ehr_seq_len, spec.ehr_params)
    sig = create_encoder("sig", spec.sig_encoder, spec.sig_in_channels, spec.sig_seq_len, spec.sig_params)
    return ehr, sig


def parse_encoder_pair(spec: str) -> tuple[str, str]:
    """``"gru+resnet1d"`` -> ``("gru", "resnet1d")``, both checked against the registry."""
    parts = spec.split("+")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"encoder configuration must look like EHR+SIG (e.g. gru+resnet1d), got {spec!r}")
    check_encoder_name("ehr", parts[0])
    check_encoder_name("sig", parts[1])
    return parts[0], parts[1]
