"""Out-of-band check providers behind the `Checks` port: the sandbox phone for now."""
