"""The clinic's facts as the channels need them outside a conversation, read from the domain (the
one place for them: the slots of domain/clinic.yml, the responses of domain/*.yml).

  * `slot_values`: each slot's initial value, to fill in the {placeholders} of a reply sent by a
    channel itself (the guard's service replies);
  * `EmergencyCall`: the emergency number, and which responses are emergency replies. By the
    domain's contract (tests/test_domain.py) those are exactly the responses that name
    {emergency_number}. The widget's channel marks their messages with the number to call, so the
    widget never keeps its own copy of the number or guesses from the text.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, Optional

from rasa.shared.core.domain import Domain

DOMAIN_DIR = Path(__file__).resolve().parent.parent / "domain"


@functools.lru_cache(maxsize=1)
def project_domain() -> Domain:
    """The domain, loaded once per process."""
    return Domain.load(str(DOMAIN_DIR))


def slot_values(domain: Domain) -> Dict[str, str]:
    return {slot.name: str(slot.initial_value) for slot in domain.slots if slot.initial_value is not None}


@dataclass(frozen=True)
class EmergencyCall:
    number: str
    responses: FrozenSet[str]  # names of the responses that are emergency replies

    @classmethod
    def from_domain(cls, domain: Optional[Domain] = None) -> "EmergencyCall":
        domain = domain or project_domain()
        responses = frozenset(
            name
            for name, variations in domain.responses.items()
            if any("{emergency_number}" in (variation.get("text") or "") for variation in variations)
        )
        return cls(slot_values(domain)["emergency_number"], responses)

    def number_for(self, response_name: Optional[str]) -> Optional[str]:
        """The number to call if `response_name` is an emergency reply, else None."""
        return self.number if response_name in self.responses else None
