"""Outgoing e-mail: the SMTP connection one-time codes, links and change notices leave by,
the messages they are sent as, and the addresses on record they go to."""
