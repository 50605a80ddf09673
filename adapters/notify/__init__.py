"""Deliveries of the notices the desk sends out of band, behind the `Outbox` port: the
sandbox's phones and mailboxes, and e-mail."""
