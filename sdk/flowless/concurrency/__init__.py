"""Global concurrency limits and rate limits (``flowless.concurrency.sync``)."""
