"""Reports: figures (matplotlib), tables and self-contained HTML pages (Jinja2 templates)."""
