"""Server-rendered pages for managers (atasan): sign in, unit overview with the 9-box, plan
review, training-needs analysis and exports, in Bahasa Indonesia with an English toggle.

`install(app)` adds them to the service: routers under /halaman, the static files, the error
pages, and the directory (names, catalog) that follows every state swap.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from serving.pages import employee, signin, unit
from serving.pages.directory import DirectoryCache
from serving.pages.errors import LoginRequired, PageError
from serving.pages.rendering import (
    STATIC_DIR,
    STATIC_PATH,
    login_required_handler,
    page_error_handler,
)


def install(app: FastAPI) -> None:
    """Mount the pages on `app` (built by `serving.app.create_app`, whose state they read;
    their settings are `app.state.settings.pages`)."""
    directory = DirectoryCache(app.state.settings.resolved_data_dir)
    app.state.pages_directory = directory
    app.state.holder.on_swap.append(directory.warm)
    app.add_exception_handler(PageError, page_error_handler)
    app.add_exception_handler(LoginRequired, login_required_handler)
    for module in (signin, unit, employee):
        app.include_router(module.router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="pages-static")


__all__ = ["install"]
