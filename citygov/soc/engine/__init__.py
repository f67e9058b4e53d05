"""The SOC engine: pure Python (no Django) readers, normalisation, classification and analytics."""
