"""The learned second opinion on red flags: a text classifier beside the rules (clinical/triage.py).

The rules read findings that lexicons and patterns recognise; wording no lexicon has slips past
them. This classifier reads the words themselves (character n-grams, robust to misspelling, and word
n-grams) and says how likely a message is to describe an emergency, an urgent problem or neither.
Either the rules or the classifier may escalate (components/red_flag_policy.py).

Its training data is corpus/red_flags/: thousands of messages written by independent writers,
each with a brief on who is writing and how (corpus/red_flags/README.md), labelled with the level a
clinician applying clinical-safety.md would give and the kind of red flag. Ordinary messages of the
NLU training data are added as non-emergencies, so everyday questions stay quiet.

Its thresholds are chosen on development data it never trained on (scripts/tune_red_flag_model.py)
so that over-triage stays at 10% or below; they live in config.yml.

Pure scikit-learn: no Rasa imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import yaml
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus" / "red_flags"
EMERGENCY, URGENT, NONE = "emergency", "urgent", "none"
CRISIS_KIND = "suicide_or_self_harm"


@dataclass(frozen=True)
class Example:
    text: str
    level: str  # emergency | urgent | see_clinician | self_care_info
    kind: str  # the red flag's kind (corpus kinds), or what the message is
    writer: str


@dataclass(frozen=True)
class Opinion:
    """What the classifier thinks of one message."""

    emergency: float  # probability of any emergency
    urgent: float  # probability of a same-day (urgent) problem
    kind: str  # the most likely emergency kind
    crisis: float  # probability of a crisis (suicide or self-harm)

    def as_dict(self) -> Dict[str, object]:
        return {
            "emergency": round(self.emergency, 4),
            "urgent": round(self.urgent, 4),
            "crisis": round(self.crisis, 4),
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, record: Optional[Mapping[str, Any]]) -> Optional["Opinion"]:
        if not record:
            return None
        return cls(
            float(record.get("emergency", 0.0)),
            float(record.get("urgent", 0.0)),
            str(record.get("kind", "")),
            float(record.get("crisis", 0.0)),
        )


def load_corpus(directory: Path = CORPUS_DIR) -> List[Example]:
    examples = []
    for path in sorted(directory.glob("*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in spec["vignettes"]:
            examples.append(Example(str(item["text"]), item["level"], item.get("kind", ""), spec["writer"]))
    return examples


def label_of(example: Example) -> str:
    """The class an example trains: each emergency kind on its own (so the classifier can say which
    emergency it sees), urgent, or none."""
    if example.level == EMERGENCY:
        return f"{EMERGENCY}:{example.kind}"
    if example.level == URGENT:
        return URGENT
    return NONE


class RedFlagModel:
    """Character and word n-grams of the normalised text, and a logistic regression per class (one
    against the rest, liblinear): as good as a multinomial one on the development rounds at low
    over-triage, and six times faster to train (5 s instead of 30 s on two cores)."""

    def __init__(self, regularisation: float = 30.0, max_char_features: int = 150_000, seed: int = 42) -> None:
        self.chars = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 5),
            sublinear_tf=True,
            min_df=2,
            max_features=max_char_features,
            dtype=np.float32,
        )
        self.words = TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b", dtype=np.float32
        )
        self.classifier = LogisticRegression(
            C=regularisation, solver="liblinear", multi_class="ovr", class_weight="balanced", random_state=seed
        )
        self._emergency: List[int] = []
        self._urgent: Optional[int] = None
        self._crisis: Optional[int] = None

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> "RedFlagModel":
        features = hstack([self.chars.fit_transform(texts), self.words.fit_transform(texts)]).tocsr()
        self.classifier.fit(features, list(labels))
        # Kept small in memory: the n-grams pruned by min_df are only for introspection, and
        # single precision is plenty for the weights.
        self.chars.stop_words_ = None
        self.words.stop_words_ = None
        self.classifier.coef_ = self.classifier.coef_.astype(np.float32)
        self.classifier.intercept_ = self.classifier.intercept_.astype(np.float32)
        classes = list(self.classifier.classes_)
        self._emergency = [i for i, c in enumerate(classes) if c.startswith(EMERGENCY + ":")]
        self._urgent = classes.index(URGENT) if URGENT in classes else None
        crisis = f"{EMERGENCY}:{CRISIS_KIND}"
        self._crisis = classes.index(crisis) if crisis in classes else None
        return self

    def opinions(self, texts: Sequence[str]) -> List[Opinion]:
        features = hstack([self.chars.transform(texts), self.words.transform(texts)]).tocsr()
        probabilities = self.classifier.predict_proba(features)
        classes = self.classifier.classes_
        out = []
        for row in probabilities:
            emergency = row[self._emergency]
            kind = classes[self._emergency[int(np.argmax(emergency))]].split(":", 1)[1] if self._emergency else ""
            out.append(
                Opinion(
                    emergency=float(emergency.sum()),
                    urgent=float(row[self._urgent]) if self._urgent is not None else 0.0,
                    kind=kind,
                    crisis=float(row[self._crisis]) if self._crisis is not None else 0.0,
                )
            )
        return out

    def opinion(self, text: str) -> Opinion:
        return self.opinions([text])[0]


# The overload screen (channels/guard.py). A server with MAX_TURNS_IN_FLIGHT turns going refuses a
# message unread ("busy, send it again"); first this classifier alone reads it (about 2 ms), and a
# message that may describe an emergency or a crisis goes through, to the red-flag check and the
# emergency reply. The bar is the policy's lowest, its "ask" threshold (config.yml), not its
# escalation one: here a false alarm costs one turn of CPU, a miss costs a patient the number to call.
SCREEN_THRESHOLD = 0.3


class EmergencyScreen:
    """The classifier the Rasa server loaded (components/red_flag_classifier.py hands it over), as a
    yes/no: may this message describe an emergency or a crisis?"""

    def __init__(self, threshold: float = SCREEN_THRESHOLD) -> None:
        self.threshold = threshold
        self._model: Optional[RedFlagModel] = None
        self._normalise: Callable[[str], str] = str

    def use(self, model: RedFlagModel, normalise: Callable[[str], str]) -> None:
        self._model, self._normalise = model, normalise

    def may_be_an_emergency(self, text: str) -> bool:
        if self._model is None:  # nothing to read it with (no model loaded): it goes through
            return True
        opinion = self._model.opinion(self._normalise(text))
        return opinion.emergency >= self.threshold or opinion.crisis >= self.threshold


# The process's one screen: filled when the Rasa server loads its model.
SCREEN = EmergencyScreen()


def training_set(examples: Iterable[Example], ordinary_messages: Iterable[str] = ()) -> Tuple[List[str], List[str]]:
    """Texts and labels: the corpus, and ordinary messages (the NLU training data) as `none`."""
    texts, labels = [], []
    for example in examples:
        texts.append(example.text)
        labels.append(label_of(example))
    for message in ordinary_messages:
        texts.append(message)
        labels.append(NONE)
    return texts, labels
