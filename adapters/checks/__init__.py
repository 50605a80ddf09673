"""Out-of-band check providers behind the `Checks` port: the sandbox phone, codes by e-mail,
Duo Push (Duo's Auth API) and SMS codes through a Twilio-compatible Verify API."""
