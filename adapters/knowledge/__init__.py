"""Runbooks read where the IT team keeps them (Confluence)."""
