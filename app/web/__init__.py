"""The web layer's plumbing: who is asking (``requests``) and how the screens,
APIs and pages are registered (``wiring``)."""
