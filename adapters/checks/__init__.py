"""Out-of-band check providers behind the `Checks` port: the sandbox phone, and codes by e-mail."""
