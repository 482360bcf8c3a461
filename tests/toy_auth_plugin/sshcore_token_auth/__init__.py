"""A made-up auth method, ``x-token@example.com``: the client presents a bearer token."""
