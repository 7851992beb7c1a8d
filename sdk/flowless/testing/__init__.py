"""Helpers for testing flows (``flowless.testing.utilities.prefect_test_harness``)."""
