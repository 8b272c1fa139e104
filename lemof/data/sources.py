"""What the library knows about each cohort family (``bundle.source``), registered by the family.

A bundle names its family in ``provenance.json``; no module outside the family's own compares
that name. What differs by family is registered here by the family's modules and read through
``source_info(bundle.source)``:

- ``concepts``: the clinical concepts the level probes look for and their value per stay
  (a ``ConceptSet``, ``lemof/data/<family>_concepts.py``);
- ``channel_limits``: the physiological limits of the sparse bedside channels a what-if may set
  (EHR features carry theirs in ``features.json``);
- ``los_definition``: what the family's length of stay measures (ICU stay, or ICU admission to
  hospital discharge), said beside every prediction;
- ``seeded_draws``: cohorts of the family are draws of a generator whose seed is in their
  provenance, and two draws with different seeds reuse stay ids for other stays (an id is then
  no evidence that a run saw a stay: ``lemof.evaluation.external``).

The modules of the built-in families are listed below and imported on first use, so that nothing
loads a family's code before a cohort of that family needs it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from lemof.data.concepts import ConceptSet

# The modules that register what the library knows about each built-in family.
_BUILTIN_MODULES: dict[str, tuple[str, ...]] = {
    "synthetic": ("lemof.data.synthetic_concepts", "lemof.data.synthetic"),
    "physionet2012": ("lemof.data.physionet2012_concepts", "lemof.data.physionet2012"),
    "mimic-iv": ("lemof.data.mimic_concepts",),
}
_REGISTERED: dict[str, "SourceInfo"] = {}


@dataclass(frozen=True)
class SourceInfo:
    name: str
    concepts: ConceptSet | None = None
    channel_limits: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    seeded_draws: bool = False
    los_definition: str = ""  # what the cohort's LOS measures, in words, for the page beside every prediction


def register_source(name: str, **knowledge: Any) -> None:
    """Record what family ``name`` knows (``concepts=``, ``channel_limits=``, ``seeded_draws=``, ``los_definition=``; fields of ``SourceInfo``)."""
    _REGISTERED[name] = replace(_REGISTERED.get(name, SourceInfo(name)), **knowledge)


def source_info(name: str) -> SourceInfo:
    """What is known about family ``name`` (nothing, for a family that registers nothing)."""
    for module in _BUILTIN_MODULES.get(name, ()):
        importlib.import_module(module)  # registers on first import
    return _REGISTERED.get(name, SourceInfo(name))


def families_with_concepts() -> list[str]:
    """The built-in families that define concepts, for messages."""
    return [name for name in _BUILTIN_MODULES if source_info(name).concepts is not None]
