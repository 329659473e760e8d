"""Custom actions of the knee-pain assistant, served by rasa-sdk (`rasa run actions`).

Modules by concern:
  articles.py        the clinic's article content as data: load, check, render (no Rasa imports)
  passage_search.py  TF-IDF search over the article passages the content quotes (no Rasa imports)
  scope.py           what is inside the assistant's scope (no Rasa imports)
  clinic.py          clinic settings and fixed texts, read from the domain (one place for them)
  answers.py         action_answer_from_articles
  fallback.py        the clarifying question and the last-resort fallback
  triage.py          findings in, a level and reasons out (no Rasa imports)
  self_check.py      the self-check's questions and how answers become findings (no Rasa imports)
  conversation.py    what the patient has said so far, read from the tracker
  forms.py           the self-check form: start, next question, answers in the patient's words
  triage_replies.py  the self-check summary and the follow-up to a red-flag escalation
"""
