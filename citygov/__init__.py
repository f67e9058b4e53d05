"""citygov: the digital-governance platform of a city's IT bureau."""

__version__ = "0.1.0"
