"""Community manager copilot: charter-grounded help for community managers.

Pipeline (one module per step): ingest -> store -> index/lexical -> retrieve -> features -> api/cli.
"""

__version__ = "0.1.0"
