"""A third-party second provider of aes128-ctr (test distribution)."""
