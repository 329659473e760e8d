"""Custom actions of the knee-pain assistant, served by rasa-sdk (`rasa run actions`).

Thin rasa-sdk adapters: the clinical decisions and content live in the clinical/ package.
Modules by concern:
  clinic.py          clinic settings and fixed texts, read from the domain (one place for them)
  answers.py         action_answer_from_articles
  fallback.py        the clarifying question and the last-resort fallback
  conversation.py    what the patient has said so far, read from the tracker
  forms.py           the self-check form: start, next question, answers in the patient's words
  triage_replies.py  the self-check summary and the follow-up to a red-flag escalation
"""
