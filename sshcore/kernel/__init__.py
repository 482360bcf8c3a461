"""The sans-I/O kernel: framing, the transport, user-auth and connection state machines,
their events and configuration.  No I/O, no asyncio, no crypto library: algorithms
come from plugins through the registry.
"""
