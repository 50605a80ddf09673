"""Jira Service Management: requests through its servicedesk API as the desk's `Tickets`, and their
changes as a `TicketFeed` and by Jira webhook."""
