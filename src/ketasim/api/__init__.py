"""The HTTP API and web app (``ketasim serve``)."""

from ketasim.api.app import create_app as create_app
from ketasim.api.limits import Limits as Limits

__all__ = ["Limits", "create_app"]
