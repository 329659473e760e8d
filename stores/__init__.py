"""Where conversations and conversation locks are kept: the tracker store and the lock store that
endpoints.yml names, each chosen from the environment (DATABASE_URL, REDIS_URL)."""
