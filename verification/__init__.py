"""Who is typing, and proof that it is still them: identity resolution from the platform's
own sign-in, and out-of-band step-up checks on registered factors."""
