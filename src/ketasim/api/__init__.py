"""The HTTP API and web app (``ketasim serve``)."""

from ketasim.api._app import Limits as Limits
from ketasim.api._app import create_app as create_app

__all__ = ["Limits", "create_app"]
