"""``level_concepts.json``: what each level of a LeMoF run encodes (optional; written at training or
by ``python -m lemof concepts``, computed by ``lemof.explain.concepts``)::

    {"concepts": {name: {"definition": str, "kind": "binary" | "continuous"}},
     "levels": {"ehr.L1": {name: {"score": float, "lo": float, "hi": float, "n": int}}}, ...}

Reading it needs neither torch nor scikit-learn."""

from __future__ import annotations

import json
from pathlib import Path

from lemof.data.concepts import KINDS
from lemof.errors import RunError

CONCEPTS_FILE = "level_concepts.json"


def check_level_concepts(obj, where: str) -> dict:
    """``obj`` if it is a well-formed ``level_concepts.json``, else a one-line ``RunError``."""
    try:
        concepts, levels = obj["concepts"], obj["levels"]
        for name, c in concepts.items():
            if c["kind"] not in KINDS or not isinstance(c["definition"], str):
                raise ValueError(f"concept {name!r}")
        for level, scores in levels.items():
            for name, s in scores.items():
                if name not in concepts:
                    raise ValueError(f"level {level} scores unknown concept {name!r}")
                for key in ("score", "lo", "hi"):
                    float(s[key])
                int(s["n"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RunError(f"{where} is malformed ({type(exc).__name__}: {exc}); python -m lemof concepts rewrites it") from None
    return obj


def read_level_concepts(path: Path) -> dict | None:
    """The concepts stored at ``path`` (None if there is no file)."""
    if not path.exists():
        return None
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{path} is not valid JSON ({exc})") from None
    return check_level_concepts(obj, str(path))
