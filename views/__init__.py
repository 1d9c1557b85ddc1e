"""Web views: the read models over HTTP (JSON), each request answered by the worker that owns the key."""
