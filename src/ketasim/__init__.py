"""ketasim: a mechanistic simulator of ketamine and esketamine, dose to symptoms.

A research and decision-support tool: it does not replace clinical judgement.
"""

__version__ = "0.1.0"

DISCLAIMER = "ketasim is a research and decision-support tool; it does not replace clinical judgement."
"""The one wording of the disclaimer, on every report, page, JSON result and ``--help``."""
