"""The clinic's two articles as structured content, and how an answer from them is written.

The facts live in YAML beside this module (content/articles.yml, content/topics.yml): each topic is
one patient question (one NLU intent), answered in our own words, with the verbatim article quotes
that support it. Tests check that every quote is in its article and that the quotes cover every
sentence of both articles. Nothing here imports Rasa.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple

import yaml

import settings
from clinical.fingerprint import yaml_files_digest

CONTENT_DIR = Path(__file__).resolve().parent / "content"
# The articles themselves are kept outside the repository, in ../shared/articles beside the clone
# (ARTICLES_DIR overrides). Only the tests read them: the content records carry what answers need.
DEFAULT_ARTICLES_DIR = Path(
    settings.optional("ARTICLES_DIR") or Path(__file__).resolve().parent.parent.parent / "shared" / "articles"
)


@dataclass(frozen=True)
class Article:
    key: str
    title: str
    publisher: str
    file: str
    excluded: Tuple[str, ...] = ()

    @property
    def citation(self) -> str:
        return f"\u201c{self.title}\u201d ({self.publisher})"


@dataclass(frozen=True)
class Source:
    article: Article
    quotes: Tuple[str, ...]


@dataclass(frozen=True)
class Topic:
    intent: str
    label: str
    answer: str
    about_msc: bool
    sources: Tuple[Source, ...]

    @property
    def quotes(self) -> Iterable[Tuple[Article, str]]:
        for source in self.sources:
            for quote in source.quotes:
                yield source.article, quote


@dataclass(frozen=True)
class Library:
    articles: Dict[str, Article]
    topics: Dict[str, Topic]  # by intent
    also_answering: Dict[str, str]  # another intent -> the topic intent that answers it

    def topic_for_intent(self, intent: Optional[str]) -> Optional[Topic]:
        intent = intent or ""
        return self.topics.get(intent) or self.topics.get(self.also_answering.get(intent, ""))


def content_digest(content_dir: Path = CONTENT_DIR) -> str:
    """A fingerprint of the content records, so that a trained index built from them notices a change."""
    return yaml_files_digest(content_dir)


def _read_yaml(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@functools.lru_cache(maxsize=None)
def load_library(content_dir: Path = CONTENT_DIR) -> Library:
    raw_articles = _read_yaml(content_dir / "articles.yml")["articles"]
    articles = {
        key: Article(
            key=key,
            title=spec["title"],
            publisher=spec["publisher"],
            file=spec["file"],
            excluded=tuple(item["text"] for item in spec.get("excluded", [])),
        )
        for key, spec in raw_articles.items()
    }
    topics: Dict[str, Topic] = {}
    also_answering: Dict[str, str] = {}
    for spec in _read_yaml(content_dir / "topics.yml")["topics"]:
        intent = spec["intent"]
        if intent in topics:
            raise ValueError(f"topic {intent} is defined twice in topics.yml")
        also_answering.update({other: intent for other in spec.get("also_answers", [])})
        topics[intent] = Topic(
            intent=intent,
            label=spec["label"],
            answer=" ".join(spec["answer"].split()),
            about_msc=bool(spec["about_msc"]),
            sources=tuple(
                Source(article=articles[src["article"]], quotes=tuple(src["quotes"])) for src in spec["sources"]
            ),
        )
    return Library(articles=articles, topics=topics, also_answering=also_answering)


def normalise(text: str) -> str:
    """Collapse runs of white space, so quotes match the article whatever its line breaks."""
    return re.sub(r"\s+", " ", text).strip()


def compose_answer(topic: Topic, *, investigational_notice: str, disclaimer: str) -> str:
    """One chat message: our answer, the investigational notice on stem cell topics, the source
    article(s) by name, and the disclaimer with the clinic's contact."""
    parts = [topic.answer]
    if topic.about_msc:
        parts.append(investigational_notice)
    citations = "; ".join(dict.fromkeys(source.article.citation for source in topic.sources))
    label = "Source" if len(topic.sources) == 1 else "Sources"
    parts.append(f"{label}: {citations}")
    parts.append(disclaimer)
    return "\n\n".join(parts)
