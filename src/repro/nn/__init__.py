"""Models, including batched models that train many sweep points at once."""
