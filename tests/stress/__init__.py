"""Stress tests (opt-in: see conftest.py)."""
