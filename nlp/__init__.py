"""The project's own spaCy pipeline: a blank English model with lookup lemmas and rule-based entities."""
