"""Entra ID through Microsoft Graph: a `Directory`, and risky sign-ins as a `LockoutFeed`."""
