"""Shared pytest fixtures. Area fixtures live in tests/<area>/conftest.py."""
