"""Tests of the arena's pages."""
