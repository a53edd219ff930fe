"""Small plugins quoted by docs/plugins.md as the example of each hook; tests/test_hooks.py
runs every one of them (in process, or installed into a real server)."""
