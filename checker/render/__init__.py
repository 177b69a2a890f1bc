"""Renderers: the product's results as text, JSON, JUnit, Code Quality and Markdown."""
