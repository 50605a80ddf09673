"""What the desk's HTTP clients of SaaS backends share: bearer tokens fetched without stalling
the event loop (`adapters.http.tokens`)."""
