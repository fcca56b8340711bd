"""actline: action recognizers and action timelines from small, domain-specific recordings."""

__version__ = "0.1.0"
