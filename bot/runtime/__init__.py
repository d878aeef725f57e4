"""Composition root, settings, logging, the serve process and its scheduler process, the ASGI server."""
