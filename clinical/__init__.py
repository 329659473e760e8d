"""The clinical logic of the knee-pain assistant: pure Python and data, no Rasa imports.

Both sides of the assistant import it: the Rasa server's graph components (components/) and the
action server's actions (actions/). Neither side imports the other.

Modules:
  triage.py          findings in, a level and reasons out; rules in content/red_flags.yml
  self_check.py      the self-check's questions (content/self_check.yml) and how answers become findings
  findings.py        what a message says about the patient's body, with negation and context
  scope.py           what is inside the assistant's scope
  articles.py        the clinic's article content as data: load, check, render
  passage_search.py  TF-IDF search over the article passages the content quotes
  topic_choice.py    the intent classifier and a retrieval search deciding a message's topic together
  language.py        whether a message is in a language the assistant cannot read
  fingerprint.py     a digest of data files, for the training cache
"""
