"""The daemon's HTTP API: the FastAPI app factory (:func:`novictl.daemon.http.app.create_app`), its routes,
its middlewares and the one place errors become JSON."""

__all__: list[str] = []
