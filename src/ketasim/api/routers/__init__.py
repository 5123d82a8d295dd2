"""The API routes, one module per part of ketasim."""
