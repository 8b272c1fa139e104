"""One type for every additive explanation of one stay: ``base + Σ values + residual = output``.

Level SHAP, the head contributions, TreeSHAP and the input drivers all split one number of the
model into parts. Each is an ``Attribution`` (the idea of captum's single ``attribute()``):

- ``explains`` says *which* number (the level stacker's output is not the prediction) and
  ``unit`` its scale (``"log1p-days"`` or ``"days"``);
- ``base`` is the reference the parts start from (the Shapley base value, the meta-learner's
  bias, the trees' expected output, a typical stay's prediction), named by ``base_label``;
- ``names`` / ``values`` / ``groups`` are the parts (``None``: absent for this stay, e.g. the
  biosignal's levels of a stay without one — absent is never zero evidence);
- ``residual`` is the part the method cannot attribute and reports (Integrated Gradients'
  integration error, in the attribution's unit; 0 for the exact methods);
- ``tolerance`` bounds ``|base + Σ values + residual − output|``: the floating-point error of
  the method's arithmetic, stated by the explainer that made it (``lemof.explain.explainers``).

An attribution never copies the stay's prediction: it is returned beside it
(``StayResults.prediction``), and ``output`` is the number it explains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FLOAT32_EPS = float(np.finfo(np.float32).eps)  # 2**-23: unit roundoff (x2) of the network's float32 arithmetic
FLOAT64_EPS = float(np.finfo(np.float64).eps)


def summation_bound(eps: float, magnitudes: list[float], n_terms: int) -> float:
    """Worst-case rounding of adding ``n_terms`` numbers in a precision with machine epsilon
    ``eps``: (n − 1)·eps·Σ|x| (Higham, *Accuracy and Stability of Numerical Algorithms*, 2002,
    §4.2), over the absolute values ``magnitudes`` of every number involved."""
    return max(n_terms - 1, 1) * eps * float(sum(abs(m) for m in magnitudes if m is not None and math.isfinite(m)))


@dataclass(frozen=True)
class Attribution:
    method: str  # the explainer's name: "level_shap", "heads", "tree_shap", "drivers"
    title: str  # for a reader: "Level SHAP", "Head contributions", ...
    explains: str  # which number: "the level stacker's output", "the predicted LOS", ...
    unit: str  # "log1p-days" or "days"
    base: float
    base_label: str
    output: float
    names: list[str]
    values: list[float | None]  # None: absent for this stay
    groups: list[str]  # per part: modality ("ehr"/"sig"), head kind, or driver kind
    residual: float = 0.0  # what the method reports it could not attribute (integration error)
    tolerance: float = 0.0  # bound on |base + Σ values + residual − output| (floating point)
    texts: list[str] = field(default_factory=list)  # a sentence per part ("" where none), for the drivers
    detail: dict[str, Any] = field(default_factory=dict)  # method-specific, JSON-ready (see each explainer)
    note: str = ""  # how it was computed, one paragraph

    def __post_init__(self) -> None:
        n = len(self.names)
        if len(self.values) != n or len(self.groups) != n or (self.texts and len(self.texts) != n):
            raise ValueError(f"{self.method}: names, values, groups (and texts) must have one entry per part")

    @property
    def total(self) -> float:
        """Σ of the present values."""
        return float(sum(v for v in self.values if v is not None))

    @property
    def completeness_gap(self) -> float:
        """base + Σ values + residual − output: zero up to ``tolerance``."""
        return self.base + self.total + self.residual - self.output

    def present(self) -> list[int]:
        return [i for i, v in enumerate(self.values) if v is not None]

    def top(self, k: int, min_abs: float = 0.0) -> tuple[list[int], float]:
        """Indices of the (at most) ``k`` parts with the largest |value| of at least ``min_abs``
        (largest first; ties in their order) and the sum of every other present part."""
        idx = self.present()
        order = sorted(idx, key=lambda i: -abs(self.values[i]))
        shown = [i for i in order if abs(self.values[i]) >= min_abs][:k]
        return shown, self.total - float(sum(self.values[i] for i in shown))

    def value_of(self, name: str) -> float | None:
        return self.values[self.names.index(name)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method, "title": self.title, "explains": self.explains, "unit": self.unit,
            "base": self.base, "base_label": self.base_label, "output": self.output,
            "parts": [
                {"name": n, "value": v, "group": g, **({"text": self.texts[i]} if self.texts else {})}
                for i, (n, v, g) in enumerate(zip(self.names, self.values, self.groups))
            ],
            "residual": self.residual, "tolerance": self.tolerance, "detail": self.detail, "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Attribution":
        """The inverse of ``to_dict`` (JSON keeps every float64 exactly)."""
        parts = d["parts"]
        texts = [p.get("text", "") for p in parts] if any("text" in p for p in parts) else []
        return cls(
            method=d["method"], title=d["title"], explains=d["explains"], unit=d["unit"], base=float(d["base"]), base_label=d["base_label"],
            output=float(d["output"]), names=[p["name"] for p in parts], values=[None if p["value"] is None else float(p["value"]) for p in parts],
            groups=[p["group"] for p in parts], residual=float(d["residual"]), tolerance=float(d["tolerance"]), texts=texts,
            detail=dict(d.get("detail") or {}), note=d.get("note", ""),
        )
