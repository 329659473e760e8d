"""Custom actions of the knee-pain assistant, served by rasa-sdk (`rasa run actions`).

Modules by concern:
  articles.py        the clinic's article content as data: load, check, render (no Rasa imports)
  passage_search.py  TF-IDF search over the article passages the content quotes (no Rasa imports)
  scope.py           what is inside the assistant's scope (no Rasa imports)
  clinic.py          clinic settings and fixed texts, read from the domain (one place for them)
  answers.py         action_answer_from_articles
  fallback.py        the clarifying question and the last-resort fallback
"""
