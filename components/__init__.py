"""Custom Rasa NLU graph components: thin adapters around the project's pure Python rules."""
