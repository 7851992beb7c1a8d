"""Prefect's ``prefect.utilities`` paths, for the parts that mean something without a
server: ``annotations`` (the argument wrappers) and ``engine`` (how a run's inputs are
resolved from futures and states)."""

__all__: list[str] = []
