"""The assistant's engine: personal-data masking and FAQ retrieval. Pure Python, no Django."""
