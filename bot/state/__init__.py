"""The desk's repositories: its own records in Redis (cases and their audit trail, approvals,
time-bound grants, executed actions, button references, conversations, delivered events and
the admins' switches). Nothing else in the desk touches Redis: services get a repository,
never a connection."""
