"""A loopback TEST HARNESS that speaks the part of the ClickHouse HTTP interface that clickhouse-connect uses, on
top of the embedded engine (chDB), so that the server backend (`sightline.store.server`) runs in the tests with
its client, formats, settings, error codes and cancelling for real, on the engine version of the embedded one.

It is not a ClickHouse server and is never offered as one: it serves 127.0.0.1 only, for the tests' own runs.
`harness.py` is the server (run as a process of its own: `python -m tests.clickhouse_http.harness`), `engine.py`
its chDB side, `fixtures.py` the pytest fixtures that start it and give each test a database of its own.
"""
