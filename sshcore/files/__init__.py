"""Files users keep: keys and certificates, known_hosts and authorized_keys, ssh_config
and sshd_config, password files, KRLs, and the agent's socket protocol.
"""
