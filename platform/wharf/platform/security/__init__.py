"""Password hashing, token and invite-code generation, config encryption, rate limits."""
