"""ServiceNow: incidents through its Table API as the desk's `Tickets`, and their changes (journal
entries, state and assignee) as a `TicketFeed` and by webhook."""
