"""Dose records and regimens."""

from ketasim.regimens._dose import ROUTES as ROUTES
from ketasim.regimens._dose import Dose as Dose
from ketasim.regimens._dose import Route as Route
from ketasim.regimens._dose import expand as expand

__all__ = ["ROUTES", "Dose", "Route", "expand"]
