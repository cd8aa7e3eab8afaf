"""Fakes of external services that serve their real wire on loopback, for tests."""
