"""``icam serve DIR [--host 127.0.0.1] [--port 8000] [--url URL]``: the web app over the project's registry and
ledger, for the head office's LAN (it needs no internet: maps, scripts and styles are served from icam)."""

from __future__ import annotations

from typing import Annotated

import typer

from icam.cli.errors import fail_cleanly
from icam.cli.options import DirArg, UrlOpt, console


@fail_cleanly
def serve(
    project_dir: DirArg,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every network of this "
                                                     "machine, e.g. the office LAN).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    url: UrlOpt = None,
) -> None:
    """Serve the project's web app: dashboard, map, agreements, enforcement, credits, users (Ctrl-C stops)."""
    import uvicorn

    from icam.core.errors import InputError
    from icam.web.app import create_app

    if not project_dir.is_dir():
        raise InputError(f"{project_dir} is not a folder", "give the project folder (the one holding icam.toml)")
    app = create_app(project_dir, url)
    console.print(f"icam serves {project_dir.resolve()} on http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
