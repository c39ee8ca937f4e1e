"""Store tests: the Virtuoso fixtures come from ``tests.conftest_virtuoso`` (registered by ``tests/conftest.py``)."""
