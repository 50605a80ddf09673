"""Okta: its Management API as a `Directory`, Okta Verify and its other factors as `Checks`, its
system log as a `LockoutFeed`."""
