"""Service layer: one function per user action. No Flask imports here."""
