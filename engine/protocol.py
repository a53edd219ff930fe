"""The WebSocket message types, both ways; docs/protocol.md documents each (a test checks)."""

CLIENT_MESSAGE_TYPES = ("act", "resync", "ping")
SERVER_MESSAGE_TYPES = ("view", "ack", "error", "pong")
STREAMS = ("shared", "personal")
