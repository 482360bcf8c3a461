"""A third-party MAC plugin: HMAC-SHA3-256 under a private name."""
