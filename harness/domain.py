"""The domain as the action server receives it: domain/*.yml merged by Rasa itself."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, Dict

ROOT = Path(__file__).resolve().parent.parent


def load_domain() -> Dict[str, Any]:
    """A copy: callers may change it."""
    return copy.deepcopy(_merged_domain())


@functools.lru_cache(maxsize=1)
def _merged_domain() -> Dict[str, Any]:
    from rasa.shared.core.domain import Domain

    return Domain.load(str(ROOT / "domain")).as_dict()
