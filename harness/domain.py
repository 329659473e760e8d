"""The domain as the action server receives it: domain/*.yml merged by Rasa itself (the channels'
loader, channels/clinic_domain.py, so there is one), as a dict."""

from __future__ import annotations

import copy
import functools
from typing import Any, Dict

from channels.clinic_domain import project_domain


def load_domain() -> Dict[str, Any]:
    """A copy: callers may change it."""
    return copy.deepcopy(_as_dict())


@functools.lru_cache(maxsize=1)
def _as_dict() -> Dict[str, Any]:
    return project_domain().as_dict()
