"""Real servers the tests start and seed: OpenLDAP (`slapd`)."""
