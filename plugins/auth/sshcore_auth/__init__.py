"""Password and public-key user authentication for sshcore."""
