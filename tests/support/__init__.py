"""Helpers for the tests: launchers and clients for the real servers the integration tests use."""
