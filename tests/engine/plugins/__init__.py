"""Check plugins for the tests of loading by platform (tests/engine/test_plugin_platforms.py)."""
